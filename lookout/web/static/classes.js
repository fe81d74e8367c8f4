// The gallery's image classes: create, rename, delete (a class in use says so), by keyboard too.
import { api, describe, flash, pageData } from "./api.js";

const { project_id: projectId } = pageData();
const list = document.getElementById("class-admin");
const form = document.getElementById("new-class");

async function create(event) {
  event.preventDefault();
  const name = form.elements.name.value.trim();
  if (!name) return;
  try {
    await api(`/api/projects/${projectId}/classes`, { method: "POST", body: { name } });
    // The filter's list and the counts come from the server: show the page again.
    sessionStorage.setItem("lookout-flash", `Class "${name}" added.`);
    window.location.reload();
  } catch (error) {
    flash(describe(error), "error", 8000);
    form.elements.name.focus();
  }
}

async function act(event) {
  const button = event.target.closest("button");
  const row = event.target.closest("li[data-class-id]");
  if (!button || !row) return;
  const id = row.dataset.classId;
  const input = row.querySelector("input");
  try {
    if (button.matches("[data-rename]")) {
      const name = input.value.trim();
      await api(`/api/classes/${id}`, { method: "PATCH", body: { name } });
      input.defaultValue = name;
      flash(`Renamed to "${name}".`);
    } else if (button.matches("[data-delete]")) {
      if (!window.confirm(`Delete the class "${input.defaultValue}"?`)) return;
      await api(`/api/classes/${id}`, { method: "DELETE" });
      row.remove();
      flash(`Class "${input.defaultValue}" deleted.`);
    }
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

if (form) form.addEventListener("submit", create);
if (list) {
  list.addEventListener("click", act);
  list.addEventListener("keydown", (event) => {
    // Enter in a name field renames, as its button does.
    if (event.key === "Enter" && event.target.matches("input")) {
      event.preventDefault();
      event.target.closest("li").querySelector("[data-rename]").click();
    }
  });
}
const pending = sessionStorage.getItem("lookout-flash");
if (pending) {
  sessionStorage.removeItem("lookout-flash");
  flash(pending);
  document.getElementById("classes-card").open = true;
}
