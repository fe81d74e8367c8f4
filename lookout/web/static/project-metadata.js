// The gallery's project metadata: set a key (created or replaced) and remove one, by keyboard
// too. Everything through the JSON API; keys and values are shown as text, never as markup.
import { api, describe, flash, h, pageData } from "./api.js";

const { project_id: projectId } = pageData();
const list = document.getElementById("project-metadata");
const form = document.getElementById("project-metadata-form");
const url = `/api/projects/${projectId}/metadata`;

function render(entries) {
  if (!entries.length) {
    list.replaceChildren(h("p", { class: "muted small", "data-empty": "" }, "No metadata yet."));
    return;
  }
  list.replaceChildren(
    ...entries.map(({ key, value }) =>
      h(
        "div",
        { "data-key": key },
        h("dt", {}, key),
        h("dd", {}, value === null ? "null" : typeof value === "object" ? JSON.stringify(value) : String(value)),
        h("button", { type: "button", class: "button ghost small", "aria-label": `Remove project metadata ${key}`, "data-remove-key": key }, "×"),
      ),
    ),
  );
}

async function reload() {
  render(await api(url));
}

async function setKey(event) {
  event.preventDefault();
  const key = form.elements.key.value.trim();
  if (!key) return;
  try {
    await api(url, { method: "POST", body: { key, value: form.elements.value.value } });
    await reload();
    form.reset();
    form.elements.key.focus();
    flash(`Project metadata "${key}" set.`);
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

async function removeKey(event) {
  const button = event.target.closest("button[data-remove-key]");
  if (!button) return;
  const key = button.dataset.removeKey;
  try {
    await api(`${url}/${encodeURIComponent(key)}`, { method: "DELETE" });
    await reload();
    form.elements.key.focus();
    flash(`Project metadata "${key}" removed.`);
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

if (list && form) {
  form.addEventListener("submit", setKey);
  list.addEventListener("click", removeKey);
  reload().catch((error) => flash(describe(error), "error", 8000));
}
