// Compare models: two or more analyses of one image, boxes matched by IoU (the API's compare).
import { api, describe, formatWhen, h, helpIsOpen, isTyping, pageData, showError } from "./api.js";
import { OverlayRenderer, hitAt, percent } from "./overlay.js";
import { Stage, ViewState, loadImage } from "./stage.js";

const data = pageData();
const image = data.image;
const COLORS = { matched: "#2fbf71", only_a: "#f28e2b", only_b: "#4e9bff" };
const OTHER_COLORS = ["#c77dff", "#ffd23f", "#ff5a6e", "#19c6c6", "#b0b7c3"];

const state = {
  analyses: [],
  a: data.a,
  b: data.b,
  also: new Set(data.also || []),
  iou: 0.5,
  labels: true,
  split: false,
  show: { matched: true, only_a: true, only_b: true },
  result: null,
  category: new Map(), // prediction id -> matched | only_a | only_b
  hits: [],
  loading: null,
};

const errorBox = document.getElementById("error");
const pickA = document.getElementById("pick-a");
const pickB = document.getElementById("pick-b");
const iou = document.getElementById("iou");
const iouOut = document.getElementById("iou-out");
const tip = document.getElementById("hover-tip");
const viewState = new ViewState();
const renderer = new OverlayRenderer();
const mainStage = new Stage(document.getElementById("stage-main"), { onRender: (ctx, view) => draw(ctx, view, "main"), viewState });
const stageB = new Stage(document.getElementById("stage-b"), { onRender: (ctx, view) => draw(ctx, view, "b"), viewState });
window.lookoutCompare = { ready: false };

function label(analysis) {
  return `${analysis.model_name} ${analysis.model_version}`.trim();
}

function styleFor(side) {
  return (annotation) => {
    if (annotation.annotation_type !== "bounding_box") return null;
    const category = state.category.get(annotation.id);
    if (!category || !state.show[category]) return null;
    const dash = side === "b" ? [7, 4] : [];
    return { color: COLORS[category], dash, width: category === "matched" ? 2 : 2.5 };
  };
}

function layersFor(pane) {
  if (!state.result) return [];
  const byId = new Map(state.result.analyses.map((a) => [a.id, a]));
  const out = [];
  const a = byId.get(state.a);
  const b = byId.get(state.b);
  const showA = pane === "main";
  const showB = pane === "b" || !state.split;
  if (a && showA) out.push({ id: a.id, name: `A · ${label(a)}`, short: "A", color: COLORS.only_a, annotations: a.annotations, styleOf: styleFor("a") });
  if (b && showB) out.push({ id: b.id, name: `B · ${label(b)}`, short: "B", color: COLORS.only_b, annotations: b.annotations, styleOf: styleFor("b") });
  if (pane === "main") {
    let i = 0;
    for (const id of state.also) {
      const other = byId.get(id);
      if (!other) continue;
      const color = OTHER_COLORS[i % OTHER_COLORS.length];
      i += 1;
      out.push({
        id: other.id, name: label(other), short: other.model_name, color, annotations: other.annotations,
        styleOf: (ann) => (ann.annotation_type === "bounding_box" ? { color, dash: [2, 3], width: 2 } : null),
      });
    }
  }
  return out;
}

function draw(ctx, view, pane) {
  const layers = layersFor(pane);
  const result = renderer.draw(ctx, view, layers, {
    kinds: new Set(["bounding_box"]),
    opacity: 1,
    threshold: 0,
    labels: state.labels,
  });
  if (pane === "main") {
    state.hits = result.hits;
    const canvas = document.getElementById("overlay");
    canvas.dataset.drawnCount = String(result.drawn);
    window.lookoutCompare.drawn = result.drawn;
  } else {
    window.lookoutCompare.drawnB = result.drawn;
  }
}

function option(analysis) {
  return h("option", { value: analysis.id }, `${label(analysis)} · ${analysis.status} · ${formatWhen(analysis.created_at)}`);
}

function fillPickers() {
  for (const [select, value] of [[pickA, state.a], [pickB, state.b]]) {
    select.replaceChildren(...state.analyses.map(option));
    if (value) select.value = value;
  }
  const also = document.getElementById("also-list");
  also.replaceChildren();
  const others = state.analyses.filter((a) => a.id !== state.a && a.id !== state.b);
  if (!others.length) also.append(h("li", { class: "muted small" }, "No other analysis of this image."));
  for (const analysis of others) {
    const box = h("input", {
      type: "checkbox",
      checked: state.also.has(analysis.id),
      onchange: (event) => {
        if (event.target.checked) state.also.add(analysis.id);
        else state.also.delete(analysis.id);
        load();
      },
    });
    also.append(h("li", {}, h("label", {}, box, label(analysis), h("span", { class: `badge status-${analysis.status}` }, analysis.status))));
  }
}

function defaults() {
  const completed = state.analyses.filter((a) => a.status === "completed");
  const pool = completed.length >= 2 ? completed : state.analyses;
  const known = new Set(state.analyses.map((a) => a.id));
  if (!state.a || !known.has(state.a)) {
    const platform = pool.find((a) => a.model_name === "platform");
    state.a = (platform || pool[pool.length - 1] || {}).id || null;
  }
  if (!state.b || !known.has(state.b) || state.b === state.a) {
    state.b = (pool.find((a) => a.id !== state.a) || {}).id || null;
  }
  for (const id of [...state.also]) if (!known.has(id) || id === state.a || id === state.b) state.also.delete(id);
}

function remember() {
  const params = new URLSearchParams();
  if (state.a) params.set("a", state.a);
  if (state.b) params.set("b", state.b);
  if (state.also.size) params.set("also", [...state.also].join(","));
  history.replaceState(null, "", `?${params}`);
}

async function load() {
  remember();
  fillPickers();
  if (!state.a || !state.b) {
    errorBox.textContent = state.analyses.length < 2
      ? "This image needs at least two analyses to compare; it has " + state.analyses.length + "."
      : "Pick two analyses to compare.";
    errorBox.hidden = false;
    setCounts(null);
    return;
  }
  if (state.a === state.b) {
    errorBox.textContent = "A and B are the same analysis: pick two different ones.";
    errorBox.hidden = false;
    return;
  }
  const ids = [state.a, state.b, ...state.also];
  const query = ids.map((id) => `analysis_id=${encodeURIComponent(id)}`).join("&");
  const token = Symbol("load");
  state.loading = token;
  try {
    const result = await api(`/api/images/${image.id}/analyses/compare?${query}&iou=${state.iou}`);
    if (state.loading !== token) return;
    errorBox.hidden = true;
    state.result = result;
    classify(result);
  } catch (error) {
    showError(errorBox, error);
    state.result = null;
    state.category.clear();
    setCounts(null);
  }
  mainStage.render();
  stageB.render();
}

function classify(result) {
  state.category.clear();
  const comparison = result.comparison;
  if (!comparison) return setCounts(null);
  for (const m of comparison.matches) {
    state.category.set(m.a, "matched");
    state.category.set(m.b, "matched");
  }
  for (const id of comparison.only_a) state.category.set(id, "only_a");
  for (const id of comparison.only_b) state.category.set(id, "only_b");
  setCounts(comparison);
  renderCompared(result);
  renderPairs(result);
}

function setCounts(comparison) {
  const values = comparison
    ? { matched: comparison.matched_count, onlyA: comparison.only_a_count, onlyB: comparison.only_b_count }
    : { matched: null, onlyA: null, onlyB: null };
  document.getElementById("count-matched").textContent = values.matched ?? "–";
  document.getElementById("count-only-a").textContent = values.onlyA ?? "–";
  document.getElementById("count-only-b").textContent = values.onlyB ?? "–";
  window.lookoutCompare = { ...window.lookoutCompare, ready: Boolean(comparison), ...values, iou: state.iou };
}

function renderCompared(result) {
  const list = document.getElementById("compared");
  list.replaceChildren();
  result.analyses.forEach((analysis, index) => {
    const boxes = analysis.annotations.filter((a) => a.annotation_type === "bounding_box").length;
    const role = index === 0 ? "A" : index === 1 ? "B" : "also";
    const swatch = h("span", { class: `swatch ${index === 0 ? "swatch-a" : index === 1 ? "swatch-b" : ""}`, "aria-hidden": "true" });
    if (index > 1) swatch.style.background = OTHER_COLORS[(index - 2) % OTHER_COLORS.length];
    list.append(
      h("li", { class: "analysis on" }, swatch,
        h("div", { class: "analysis-title" }, `${role} · ${analysis.model_name}`, h("span", { class: "muted small" }, analysis.model_version || ""), h("span", { class: `badge status-${analysis.status}` }, analysis.status)),
        h("div", { class: "analysis-meta" }, `${boxes} box${boxes === 1 ? "" : "es"} · ${analysis.annotations_total} annotations · `, h("a", { href: `/api/analyses/${analysis.id}/export?format=csv`, download: "" }, "CSV"), " · ", h("a", { href: `/api/analyses/${analysis.id}/export?format=json`, download: "" }, "JSON"))),
    );
  });
}

function renderPairs(result) {
  const body = document.querySelector("#pairs tbody");
  body.replaceChildren();
  const [a, b] = result.analyses;
  const conf = new Map([...a.annotations, ...b.annotations].map((p) => [p.id, p.confidence]));
  const matches = result.comparison.matches;
  if (!matches.length) {
    body.append(h("tr", {}, h("td", { colspan: "4", class: "muted" }, `No pair of boxes overlaps with IoU ≥ ${state.iou.toFixed(2)}.`)));
  }
  for (const m of matches.slice(0, 500)) {
    body.append(h("tr", {}, h("td", {}, m.class_name), h("td", {}, percent(conf.get(m.a))), h("td", {}, percent(conf.get(m.b))), h("td", {}, m.iou.toFixed(2))));
  }
}

function setSplit(on) {
  state.split = on;
  document.getElementById("pane-b").hidden = !on;
  document.getElementById("caption-main").hidden = !on;
  document.getElementById("layout-overlay").setAttribute("aria-pressed", String(!on));
  document.getElementById("layout-split").setAttribute("aria-pressed", String(on));
  requestAnimationFrame(() => {
    mainStage.resize();
    stageB.resize();
  });
}

// --- controls ---

pickA.addEventListener("change", () => {
  state.a = pickA.value;
  if (state.b === state.a) state.b = (state.analyses.find((x) => x.id !== state.a) || {}).id || null;
  state.also.delete(state.a);
  load();
});
pickB.addEventListener("change", () => {
  state.b = pickB.value;
  if (state.a === state.b) state.a = (state.analyses.find((x) => x.id !== state.b) || {}).id || null;
  state.also.delete(state.b);
  load();
});
let iouTimer = 0;
iou.addEventListener("input", () => {
  state.iou = Number(iou.value);
  iouOut.textContent = state.iou.toFixed(2);
  clearTimeout(iouTimer);
  iouTimer = setTimeout(load, 150);
});
document.getElementById("labels").addEventListener("change", (event) => {
  state.labels = event.target.checked;
  mainStage.render();
  stageB.render();
});
document.getElementById("layout-overlay").addEventListener("click", () => setSplit(false));
document.getElementById("layout-split").addEventListener("click", () => setSplit(true));
for (const box of document.querySelectorAll("input[data-show]")) {
  box.addEventListener("change", () => {
    state.show[box.dataset.show] = box.checked;
    mainStage.render();
    stageB.render();
  });
}

const overlayCanvas = document.getElementById("overlay");
overlayCanvas.addEventListener("pointermove", (event) => {
  const found = mainStage.dragging ? null : hitAt(state.hits, event.offsetX, event.offsetY);
  if (!found) {
    tip.hidden = true;
    return;
  }
  tip.textContent = found.text;
  tip.hidden = false;
  tip.style.left = `${Math.min(event.offsetX + 14, mainStage.cssWidth - 200)}px`;
  tip.style.top = `${Math.min(event.offsetY + 14, mainStage.cssHeight - 30)}px`;
});
overlayCanvas.addEventListener("pointerleave", () => {
  tip.hidden = true;
});

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || isTyping(event) || helpIsOpen() || event.ctrlKey || event.metaKey || event.altKey) return;
  const shows = { 1: "matched", 2: "only_a", 3: "only_b" };
  if (shows[event.key]) {
    const box = document.querySelector(`input[data-show="${shows[event.key]}"]`);
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change"));
  } else if (event.key === "x") {
    [state.a, state.b] = [state.b, state.a];
    load();
  } else if (event.key === "v") {
    setSplit(!state.split);
  } else if (event.key === "l") {
    const box = document.getElementById("labels");
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change"));
  } else if (event.key === "0") {
    viewState.reset();
  } else {
    return;
  }
  event.preventDefault();
});

// --- start ---

loadImage(image.content_url)
  .then((element) => {
    mainStage.setImage(element, image.width, image.height);
    stageB.setImage(element, image.width, image.height);
  })
  .catch((error) => showError(errorBox, error));

api(`/api/images/${image.id}/analyses?limit=200`)
  .then((page) => {
    state.analyses = page.items;
    defaults();
    return load();
  })
  .catch((error) => {
    errorBox.textContent = describe(error);
    errorBox.hidden = false;
  });
