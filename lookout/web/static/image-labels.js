// The image view's classes and metadata: give a class (a new name creates the class), take one
// off, set and remove metadata keys. Everything through the JSON API, text shown as text.
import { api, describe, flash, h, pageData } from "./api.js";

const { image } = pageData();
const classesUrl = `/api/projects/${image.project_id}/classes`;
const givenUrl = `/api/images/${image.id}/classifications`;

const chips = document.getElementById("image-classes");
const classForm = document.getElementById("classify-form");
const classNames = document.getElementById("class-names");
const metaList = document.getElementById("image-metadata");
const metaForm = document.getElementById("metadata-form");

let projectClasses = [];

function chip(given) {
  return h(
    "li",
    { class: "label-chip", "data-classification-id": given.id, title: given.created_by ? `Given by ${given.created_by}` : null },
    h("span", {}, given.class_name),
    h("button", { type: "button", "aria-label": `Remove class ${given.class_name}`, "data-remove": given.id }, "×"),
  );
}

async function loadClasses() {
  try {
    const [all, given] = await Promise.all([api(classesUrl), api(givenUrl)]);
    projectClasses = all;
    classNames.replaceChildren(...all.map((c) => h("option", { value: c.name })));
    chips.replaceChildren(...(given.length ? given.map(chip) : [h("li", { class: "muted small", "data-empty": "" }, "No class yet.")]));
  } catch (error) {
    chips.replaceChildren(h("li", { class: "notice error", role: "alert" }, describe(error)));
  }
}

async function classify(event) {
  event.preventDefault();
  const input = classForm.elements.name;
  const name = input.value.trim();
  if (!name) return;
  try {
    let found = projectClasses.find((c) => c.name === name);
    if (!found) found = await api(classesUrl, { method: "POST", body: { name } });
    await api(givenUrl, { method: "POST", body: { class_id: found.id } });
    input.value = "";
    await loadClasses();
    flash(`Class "${name}" given.`);
    input.focus();
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

async function unclassify(event) {
  const button = event.target.closest("button[data-remove]");
  if (!button) return;
  try {
    await api(`/api/classifications/${button.dataset.remove}`, { method: "DELETE" });
    await loadClasses();
    classForm.elements.name.focus();
    flash("Class removed.");
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

function renderMetadata(metadata) {
  const keys = Object.keys(metadata).sort();
  if (!keys.length) {
    metaList.replaceChildren(h("p", { class: "muted small", "data-empty": "" }, "No metadata yet."));
    return;
  }
  metaList.replaceChildren(
    ...keys.map((key) =>
      h(
        "div",
        { "data-key": key },
        h("dt", {}, key),
        h("dd", {}, metadata[key] === null ? "null" : String(metadata[key])),
        h("button", { type: "button", class: "button ghost small", "aria-label": `Remove metadata ${key}`, "data-remove-key": key }, "×"),
      ),
    ),
  );
}

async function setMetadata(event) {
  event.preventDefault();
  const key = metaForm.elements.key.value.trim();
  const value = metaForm.elements.value.value;
  if (!key) return;
  try {
    const updated = await api(`/api/images/${image.id}/metadata`, { method: "PUT", body: { key, value } });
    renderMetadata(updated.metadata);
    metaForm.reset();
    metaForm.elements.key.focus();
    flash(`Metadata "${key}" set.`);
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

async function removeMetadata(event) {
  const button = event.target.closest("button[data-remove-key]");
  if (!button) return;
  const key = button.dataset.removeKey;
  try {
    const updated = await api(`/api/images/${image.id}/metadata/${encodeURIComponent(key)}`, { method: "DELETE" });
    renderMetadata(updated.metadata);
    metaForm.elements.key.focus();
    flash(`Metadata "${key}" removed.`);
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

classForm.addEventListener("submit", classify);
chips.addEventListener("click", unclassify);
metaForm.addEventListener("submit", setMetadata);
metaList.addEventListener("click", removeMetadata);
renderMetadata(image.metadata || {});
loadClasses();
