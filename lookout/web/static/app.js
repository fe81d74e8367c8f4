// Loaded on every page: filter forms, the shortcut help dialog, links with a key.
import { flash, helpIsOpen, isTyping } from "./api.js";

for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  form.addEventListener("change", (event) => {
    if (event.target.matches("select, input[type=date]")) form.requestSubmit();
  });
  // Empty fields would only clutter the address: leave them out.
  form.addEventListener("formdata", (event) => {
    for (const [key, value] of [...event.formData.entries()]) {
      if (value === "") event.formData.delete(key);
    }
  });
}

const help = document.getElementById("help");
function openHelp() {
  if (help && !help.open) help.showModal();
}
for (const button of document.querySelectorAll("[data-help-open]")) {
  button.addEventListener("click", openHelp);
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "?" && help) {
    event.preventDefault();
    if (help.open) help.close();
    else openHelp();
    return;
  }
  if (helpIsOpen()) return;
  const link = document.querySelector(`a[data-key="${CSS.escape(event.key)}"]`);
  if (link) {
    event.preventDefault();
    window.location.assign(link.href);
  }
});

// A notice left by the page before (e.g. "Image moved to the trash"), shown once here.
try {
  const notice = sessionStorage.getItem("lookout-notice");
  if (notice) {
    sessionStorage.removeItem("lookout-notice");
    flash(notice, "ok", 6000);
  }
} catch {
  // Storage refused (private mode): nothing was left.
}
