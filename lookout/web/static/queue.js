// The gallery's "Run a model" form: queue one analysis per image for a pipeline worker.
import { api, describe } from "./api.js";

const form = document.getElementById("queue-form");
const result = document.getElementById("queue-result");

function dayStart(value) {
  return value ? `${value}T00:00:00Z` : undefined;
}

function nextDayStart(value) {
  if (!value) return undefined;
  const day = new Date(`${value}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString();
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = {
    model_name: data.get("model_name").trim(),
    model_version: data.get("model_version").trim(),
    captured_after: dayStart(data.get("captured_after")),
    captured_before: nextDayStart(data.get("captured_before")),
  };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await api(`/api/projects/${form.dataset.projectId}/analyses:queue`, {
      method: "POST",
      body,
    });
    result.textContent =
      `Queued ${answer.queued} analyses of ${body.model_name}` +
      (answer.already_present ? `; ${answer.already_present} images already had one.` : ".");
    result.classList.remove("error");
  } catch (error) {
    result.textContent = describe(error);
    result.classList.add("error");
  } finally {
    button.disabled = false;
  }
});
