// The review's history on the review page: every saved version (who, when, what changed),
// restoring one, and sending an annotated sequence back to the queue with a reason.
import { api, formatWhen, h } from "./api.js";

const ACTIONS = {
  draft: "draft",
  save: "saved",
  restore: "restored",
  send_back: "sent back",
  migrated: "saved (before history)",
  import: "imported",
  group: "decided by its group",
};

/** Every version of the review, newest first (GET .../review/versions). */
export function loadHistory(apiBase) {
  return api(`${apiBase}/review/versions`);
}

/** Make an earlier version current again; `current` is the version the page shows. */
export function restoreVersion(apiBase, version, current) {
  return api(`${apiBase}/review/versions/${version}/restore`, { method: "POST", body: { version: current } });
}

export function sendBack(apiBase, reason) {
  return api(`${apiBase}/review/send-back`, { method: "POST", body: { reason } });
}

/** The versions as a list; each older one has a Restore button calling `onRestore(version)`. */
export function renderHistory(list, versions, current, onRestore) {
  list.replaceChildren(
    ...versions.map((v) =>
      h(
        "li",
        { class: "version", "data-version": String(v.version) },
        h(
          "div",
          { class: "version-head" },
          h("strong", {}, `v${v.version}`),
          ` ${ACTIONS[v.action] || v.action} · ${v.saved_by || "import"} · ${formatWhen(v.saved_at)}`,
        ),
        v.reason ? h("div", { class: "muted small version-reason" }, v.reason) : "",
        h("ul", { class: "changes small" }, ...v.changes.map((change) => h("li", {}, change))),
        v.version === current
          ? h("span", { class: "muted small" }, "current")
          : h("button", { type: "button", class: "button small ghost", onclick: () => onRestore(v.version) }, `Restore v${v.version}`),
      ),
    ),
  );
}
