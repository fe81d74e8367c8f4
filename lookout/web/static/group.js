// A group of recurring objects: its members' crops side by side (drawn from a frame of each
// around the object's median box) and one decision for all of them, from the keyboard too:
// f then the false-positive types' letters, s then 1/2/3, Enter applies, Esc starts over.
import { api, describe, formatWhen, helpIsOpen, isTyping, pageData } from "./api.js";
import { FP_KEYS, SMOKE_KEYS } from "./review-keys.js";
import { describeDecision } from "./review-model.js";

const data = pageData();
const $ = (id) => document.getElementById(id);
const form = $("decide");
const state = { mode: null, busy: false };
window.lookoutGroup = { ready: false, mode: null, applied: null, decision: data.group.decision };

function publish(extra = {}) {
  window.lookoutGroup = { ...window.lookoutGroup, mode: state.mode, ...extra };
}

// --- crops ------------------------------------------------------------------------------

function drawCrop(canvas, image) {
  const [x1, y1, x2, y2] = canvas.dataset.crop.split(",").map(Number);
  const [bx1, by1, bx2, by2] = canvas.dataset.box.split(",").map(Number);
  const sw = (x2 - x1) * image.naturalWidth;
  const sh = (y2 - y1) * image.naturalHeight;
  canvas.height = Math.round((canvas.width * sh) / sw) || canvas.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, x1 * image.naturalWidth, y1 * image.naturalHeight, sw, sh, 0, 0, canvas.width, canvas.height);
  const sx = canvas.width / (x2 - x1);
  const sy = canvas.height / (y2 - y1);
  ctx.strokeStyle = "rgba(255, 196, 0, 0.9)";
  ctx.lineWidth = 2;
  ctx.strokeRect((bx1 - x1) * sx, (by1 - y1) * sy, (bx2 - bx1) * sx, (by2 - by1) * sy);
}

function loadCrops() {
  const canvases = [...document.querySelectorAll("canvas.crop[data-frame-url]")].filter((c) => c.dataset.frameUrl);
  return Promise.all(
    canvases.map(
      (canvas) =>
        new Promise((resolve) => {
          const image = new Image();
          image.onload = () => {
            drawCrop(canvas, image);
            canvas.dataset.drawn = "1";
            resolve();
          };
          image.onerror = () => resolve();
          image.src = canvas.dataset.frameUrl;
        }),
    ),
  );
}

// --- the decision form ------------------------------------------------------------------

function setMode(mode) {
  state.mode = mode;
  for (const radio of form.elements.decision) radio.checked = radio.value === mode;
  $("smoke-fields").hidden = mode !== "smoke";
  $("fp-fields").hidden = mode !== "false_positive";
  if (!mode) {
    for (const input of form.querySelectorAll("input[type=checkbox], input[name=smoke_type]")) input.checked = false;
  }
  publish();
}

function body() {
  const decision = state.mode;
  if (decision === "smoke") {
    const chosen = form.querySelector("input[name=smoke_type]:checked");
    return { decision, smoke_type: chosen ? chosen.value : null };
  }
  const types = [...form.querySelectorAll("input[name=false_positive_types]:checked")].map((i) => i.value);
  return { decision, false_positive_types: types };
}

function say(text) {
  $("decide-message").textContent = text;
}

async function apply() {
  if (state.busy) return;
  if (!state.mode) {
    say("Choose false positive (f) or smoke (s) first.");
    return;
  }
  state.busy = true;
  try {
    const sent = body();
    const result = await api(`${data.api}/decision`, { method: "POST", body: sent });
    say(`${describeDecision(sent)}: ${result.applied} track${result.applied === 1 ? "" : "s"} took it, ${result.kept} decided by a person kept.`);
    const group = result.group;
    $("group-decision").dataset.decision = group.decision;
    $("group-decision").textContent = `Decided: ${describeDecision(group)} by ${group.decided_by || "you"}, ${formatWhen(group.decided_at)}.`;
    await refreshMembers();
    publish({ applied: result.applied, kept: result.kept, decision: group.decision });
  } catch (error) {
    say(describe(error));
  } finally {
    state.busy = false;
  }
}

async function refreshMembers() {
  const group = await api(data.api);
  for (const member of group.members) {
    const card = document.querySelector(`[data-member-id="${member.id}"]`);
    if (!card) continue;
    card.className = `crop-card status-${member.status}`;
    const badge = card.querySelector(".member-status");
    badge.dataset.status = member.status;
    const decided = member.decision && member.decision !== "undecided" ? `: ${member.decision.replace(/_/g, " ")}` : "";
    badge.textContent = `${member.status.replace(/_/g, " ")}${decided}`;
  }
  return group;
}

async function remove(memberId) {
  try {
    await api(`${data.api}/members/${memberId}`, { method: "DELETE" });
    document.querySelector(`[data-member-id="${memberId}"]`)?.remove();
    say("Taken out of the group.");
  } catch (error) {
    say(describe(error));
  }
}

for (const [type, key] of Object.entries(FP_KEYS)) {
  const hint = form.querySelector(`kbd[data-fp-key="${type}"]`);
  if (hint) hint.textContent = key;
}
for (const radio of form.elements.decision) radio.addEventListener("change", () => setMode(radio.value));
form.addEventListener("submit", (event) => {
  event.preventDefault();
  apply();
});
for (const button of document.querySelectorAll("[data-remove]")) {
  button.addEventListener("click", () => remove(button.dataset.remove));
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (helpIsOpen() || isTyping(event)) return;
  const key = event.key;
  const onButton = event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement;
  if (onButton && (key === "Enter" || key === " ")) return; // the focused button's own action
  let handled = true;
  if (key === "Enter") apply();
  else if (key === "Escape") setMode(null);
  else if (state.mode === "smoke" && SMOKE_KEYS[key]) {
    const radio = form.querySelector(`input[name=smoke_type][value="${SMOKE_KEYS[key]}"]`);
    if (radio) radio.checked = true;
  } else if (state.mode === "false_positive") {
    const type = Object.keys(FP_KEYS).find((t) => FP_KEYS[t] === key.toLowerCase());
    const box = type && form.querySelector(`input[name=false_positive_types][value="${type}"]`);
    if (box) box.checked = !box.checked;
    else handled = false;
  } else if (key === "f") setMode("false_positive");
  else if (key === "s") setMode("smoke");
  else handled = false;
  if (handled) event.preventDefault();
  publish();
});

loadCrops().then(() => publish({ ready: true, crops: document.querySelectorAll("canvas.crop[data-drawn]").length }));
