// Comments on an image or a sequence: newest first, post, edit your own, delete your own (admins
// any). Text is shown as typed (textContent, never parsed as HTML). Keyboard: Ctrl+Enter posts or
// saves, Esc cancels an edit; `t` (on pages that ask for it) moves to the comment box.
import { api, describe, flash, formatWhen, h, helpIsOpen, isTyping, pageData } from "./api.js";

const MAX = 5000;

function mount(root) {
  const data = pageData();
  const viewer = data.viewer || {};
  const url = root.dataset.api;
  const list = root.querySelector("[data-comment-list]");
  const form = root.querySelector("[data-comment-form]");
  const box = form.elements.text;
  const count = root.querySelector("[data-comment-count]");

  const mayEdit = (c) => c.author_id === viewer.id;
  const mayDelete = (c) => mayEdit(c) || Boolean(viewer.is_admin);

  function item(c) {
    const who = c.author ? c.author.display_name || c.author.email : "a former user";
    const text = h("p", { class: "comment-text" }, c.text);
    const actions = h(
      "div",
      { class: "comment-actions" },
      mayEdit(c) ? h("button", { type: "button", class: "button ghost small", "data-edit": "" }, "Edit") : null,
      mayDelete(c) ? h("button", { type: "button", class: "button danger-ghost small", "data-delete": "" }, "Delete") : null,
    );
    const li = h(
      "li",
      { class: "comment", "data-comment-id": c.id },
      h("div", { class: "comment-head" }, h("strong", {}, who), h("span", { class: "muted" }, formatWhen(c.created_at)), c.edited ? h("span", { class: "muted" }, "(edited)") : null),
      text,
      actions,
    );
    li.comment = c;
    return li;
  }

  function render(comments) {
    list.replaceChildren(...(comments.length ? comments.map(item) : [h("li", { class: "muted", "data-empty": "" }, "No comments yet.")]));
  }

  async function load() {
    try {
      render(await api(url));
    } catch (error) {
      list.replaceChildren(h("li", { class: "notice error", role: "alert" }, describe(error)));
    }
  }

  function updateCount() {
    const left = MAX - box.value.length;
    count.textContent = left < 500 ? `${left} characters left` : "Ctrl+Enter posts";
  }

  async function post(event) {
    if (event) event.preventDefault();
    const text = box.value.trim();
    if (!text) {
      box.focus();
      return;
    }
    try {
      const created = await api(url, { method: "POST", body: { text } });
      list.querySelector("[data-empty]")?.remove();
      list.prepend(item(created));
      box.value = "";
      updateCount();
      flash("Comment posted.");
    } catch (error) {
      flash(describe(error), "error", 8000);
      box.focus();
    }
  }

  function startEdit(li) {
    const c = li.comment;
    const editor = h("textarea", { maxlength: String(MAX), "aria-label": "Edit your comment" });
    editor.value = c.text;
    const save = h("button", { type: "button", class: "button small", "data-save": "" }, "Save");
    const cancel = h("button", { type: "button", class: "button ghost small", "data-cancel": "" }, "Cancel");
    li.querySelector(".comment-text").replaceWith(editor);
    li.querySelector(".comment-actions").replaceChildren(save, cancel);
    editor.focus();
    editor.setSelectionRange(editor.value.length, editor.value.length);
  }

  async function saveEdit(li) {
    const editor = li.querySelector("textarea");
    const text = editor.value.trim();
    try {
      const updated = await api(`/api/comments/${li.comment.id}`, { method: "PATCH", body: { text } });
      const fresh = item(updated);
      li.replaceWith(fresh);
      fresh.querySelector("[data-edit]")?.focus();
      flash("Comment saved.");
    } catch (error) {
      flash(describe(error), "error", 8000);
      editor.focus();
    }
  }

  function cancelEdit(li) {
    const fresh = item(li.comment);
    li.replaceWith(fresh);
    fresh.querySelector("[data-edit]")?.focus();
  }

  async function remove(li) {
    if (!window.confirm("Delete this comment?")) return;
    try {
      await api(`/api/comments/${li.comment.id}`, { method: "DELETE" });
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      if (!list.children.length) render([]);
      (next?.querySelector("button") || box).focus();
      flash("Comment deleted.");
    } catch (error) {
      flash(describe(error), "error", 8000);
    }
  }

  form.addEventListener("submit", post);
  box.addEventListener("input", updateCount);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) post(event);
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    const li = event.target.closest("li.comment");
    if (!button || !li) return;
    if (button.matches("[data-edit]")) startEdit(li);
    else if (button.matches("[data-save]")) saveEdit(li);
    else if (button.matches("[data-cancel]")) cancelEdit(li);
    else if (button.matches("[data-delete]")) remove(li);
  });
  list.addEventListener("keydown", (event) => {
    const li = event.target.closest("li.comment");
    if (!li || !event.target.matches("textarea")) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      saveEdit(li);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      cancelEdit(li);
    }
  });
  const focusKey = root.dataset.focusKey;
  if (focusKey) {
    document.addEventListener("keydown", (event) => {
      if (event.key !== focusKey || event.defaultPrevented || isTyping(event) || helpIsOpen()) return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      event.preventDefault();
      box.focus();
    });
  }
  updateCount();
  load();
}

for (const root of document.querySelectorAll("[data-comments]")) mount(root);
