// The account page: create an API key (shown once) and revoke keys, by mouse or keyboard.
import { api, describe, flash, formatWhen, h } from "./api.js";

const table = document.querySelector("#api-keys tbody");

function keyRow(key) {
  return h(
    "tr",
    { "data-key-id": key.id },
    h("td", {}, key.name),
    h("td", {}, h("code", {}, `lk_${key.prefix}_…`)),
    h("td", {}, formatWhen(key.created_at)),
    h("td", {}, key.expires_at ? formatWhen(key.expires_at) : "never"),
    h("td", {}, "never"),
    h("td", {}, h("span", { class: "tag" }, "active")),
    h("td", {}, h("button", { type: "button", class: "button ghost small", "data-revoke": key.id, "aria-label": `Revoke ${key.name}` }, "Revoke")),
  );
}

async function createKey(form) {
  const name = form.elements.name.value.trim();
  const expires = form.elements.expires.value;
  const body = { name };
  // A date means "until the end of that day", in the browser's time zone.
  if (expires) body.expires_at = new Date(`${expires}T23:59:59`).toISOString();
  try {
    const created = await api("/api/api-keys", { method: "POST", body });
    const result = document.getElementById("new-key-result");
    const value = document.getElementById("new-key-value");
    value.value = created.key;
    result.hidden = false;
    value.focus();
    value.select();
    const empty = table.querySelector("td[colspan]");
    if (empty) empty.parentElement.remove();
    table.append(keyRow(created.api_key));
    form.reset();
    flash(`Key "${created.api_key.name}" created: copy it now.`);
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

async function revokeKey(button) {
  const row = button.closest("tr");
  const name = row.cells[0].textContent;
  if (!window.confirm(`Revoke the key "${name}"? Scripts using it stop working at once.`)) return;
  try {
    await api(`/api/api-keys/${button.dataset.revoke}`, { method: "DELETE" });
    row.cells[5].textContent = "revoked";
    button.remove();
    flash(`Key "${name}" revoked.`);
  } catch (error) {
    flash(describe(error), "error", 8000);
  }
}

const form = document.getElementById("new-key");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    createKey(form);
  });
}
document.getElementById("copy-key")?.addEventListener("click", async () => {
  const value = document.getElementById("new-key-value").value;
  try {
    await navigator.clipboard.writeText(value);
    flash("Copied.");
  } catch {
    flash("Copy it by hand: the browser did not allow it.", "warn");
  }
});
table.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-revoke]");
  if (button) revokeKey(button);
});
