// The review queue page: "Start reviewing" (or r / Enter) claims the next sequence and opens
// it, in the order the page shows; skipped sequences can be put back in the queue.
import { api, describe, isTyping, helpIsOpen, pageData } from "./api.js";
import { chooseOrder, openNext } from "./review-queue.js";

const data = pageData();
// The order shown here is the order claims follow, here and from the review page after.
chooseOrder(data.order);
const start = document.getElementById("start-review");
const problem = document.getElementById("queue-problem");

async function startReviewing(event) {
  if (event) event.preventDefault();
  try {
    await openNext(data.queue_project, data.queue_url, data.order);
  } catch (error) {
    problem.textContent = describe(error);
    problem.hidden = false;
  }
}

start?.addEventListener("click", startReviewing);
document.addEventListener("keydown", (event) => {
  if (!start || event.defaultPrevented || helpIsOpen() || isTyping(event)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const onControl = event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement;
  if (event.key === "r" || (event.key === "Enter" && !onControl)) startReviewing(event);
});

// Keys work from here on (tests and scripts wait for it before pressing one).
window.lookoutQueue = { ready: true };

for (const button of document.querySelectorAll("[data-unskip]")) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api(`/api/review-queue/skipped/${button.dataset.unskip}`, { method: "DELETE" });
      window.location.reload();
    } catch (error) {
      problem.textContent = describe(error);
      problem.hidden = false;
      button.disabled = false;
    }
  });
}
