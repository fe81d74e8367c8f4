// "Move to trash" on the image view and the review page: a reason (optional), then the item
// goes to its project's trash (restorable there) and the page moves on to its list.
import { api, describe, flash } from "./api.js";

export const NOTICE_KEY = "lookout-notice";

for (const menu of document.querySelectorAll("details[data-trash]")) {
  const form = menu.querySelector("form");
  menu.addEventListener("toggle", () => {
    if (menu.open) form.elements.reason.focus();
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.elements.reason.value.trim();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api(menu.dataset.api, { method: "DELETE", body: reason ? { reason } : {} });
      try {
        sessionStorage.setItem(NOTICE_KEY, `${menu.dataset.what} moved to the trash; restore it from the project's Trash.`);
      } catch {
        // Storage refused: the list opens without the notice.
      }
      window.location.assign(menu.dataset.after);
    } catch (error) {
      flash(describe(error), "error", 8000);
      button.disabled = false;
      form.elements.reason.focus();
    }
  });
}
