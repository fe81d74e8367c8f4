// The admins' page: add users and groups, put people in groups, take them out, and switch
// a user's admin right or access. Every change goes through /api/admin, then the page reloads
// so what it shows is what is stored.
import { api, describe, flash } from "./api.js";

async function change(what, request) {
  try {
    await request();
    sessionStorage.setItem("lookout-admin-flash", what);
    window.location.reload();
  } catch (error) {
    flash(describe(error), "error", 8000);
    return false;
  }
  return true;
}

function onSubmit(id, handler) {
  const form = document.getElementById(id);
  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    handler(form);
  });
}

onSubmit("new-user", (form) => {
  const body = {
    email: form.elements.email.value.trim(),
    is_admin: form.elements.is_admin.checked,
  };
  const name = form.elements.display_name.value.trim();
  if (name) body.display_name = name;
  change(`User ${body.email} added.`, () => api("/api/admin/users", { method: "POST", body }));
});

onSubmit("new-group", (form) => {
  const body = { name: form.elements.name.value.trim() };
  const description = form.elements.description.value.trim();
  if (description) body.description = description;
  change(`Group ${body.name} added.`, () => api("/api/admin/groups", { method: "POST", body }));
});

onSubmit("add-member", (form) => {
  const { user_id: user, group_id: group, role } = form.elements;
  const who = user.selectedOptions[0]?.textContent;
  const where = group.selectedOptions[0]?.textContent;
  change(`${who} is now a ${role.value} of ${where}.`, () =>
    api(`/api/admin/groups/${group.value}/members/${user.value}`, {
      method: "PUT",
      body: { role: role.value },
    }),
  );
});

document.getElementById("users")?.addEventListener("change", async (event) => {
  const box = event.target.closest("input[data-flag]");
  if (!box) return;
  const id = box.closest("tr").dataset.userId;
  const body = { [box.dataset.flag]: box.checked };
  const ok = await change(`${box.getAttribute("aria-label")}: ${box.checked ? "yes" : "no"}.`, () =>
    api(`/api/admin/users/${id}`, { method: "PATCH", body }),
  );
  if (!ok) box.checked = !box.checked;
});

document.getElementById("groups")?.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-remove]");
  if (!button) return;
  const label = button.getAttribute("aria-label");
  if (!window.confirm(`${label}?`)) return;
  const group = button.closest("tr").dataset.groupId;
  change(`${label}: done.`, () =>
    api(`/api/admin/groups/${group}/members/${button.dataset.remove}`, { method: "DELETE" }),
  );
});

const done = sessionStorage.getItem("lookout-admin-flash");
if (done) {
  sessionStorage.removeItem("lookout-admin-flash");
  flash(done);
}
