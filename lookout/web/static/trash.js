// A project's trash: restore an image or a sequence, or (admins) delete it now, through the
// API; the page then reloads so what it shows is what is stored, and says what was done.
import { api, describe, flash, pageData } from "./api.js";

const FLASH_KEY = "lookout-trash-flash";
const { project_id: projectId } = pageData();

function request(kind, id, action) {
  if (kind === "image") {
    const path = `/api/projects/${projectId}/images/${id}`;
    if (action === "restore") return api(`${path}/restore`, { method: "POST" });
    return api(path, { method: "DELETE", body: { reason: "deleted now from the trash", force: true } });
  }
  const path = `/api/sequences/${id}`;
  if (action === "restore") return api(`${path}/restore`, { method: "POST" });
  return api(path, { method: "DELETE", body: { reason: "deleted now from the trash", force: true } });
}

document.querySelector("main")?.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  const { kind, id, label } = row.dataset;
  const action = button.dataset.action;
  if (action === "purge" && !window.confirm(`Delete ${kind} ${label} now? It cannot be restored.`)) {
    return;
  }
  button.disabled = true;
  try {
    await request(kind, id, action);
  } catch (error) {
    button.disabled = false;
    button.focus();
    flash(describe(error), "error", 8000);
    return;
  }
  const done = action === "restore" ? "restored" : "deleted for good";
  sessionStorage.setItem(FLASH_KEY, `The ${kind} ${label} was ${done}.`);
  window.location.reload();
});

const done = sessionStorage.getItem(FLASH_KEY);
if (done) {
  sessionStorage.removeItem(FLASH_KEY);
  flash(done);
}
window.lookoutTrash = { ready: true };
