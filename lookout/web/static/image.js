// Image view: analyses panel, overlays of every annotation type, side by side, exports.
import { api, describe, formatWhen, h, helpIsOpen, isTyping, pageData, showError } from "./api.js";
import { KINDS, OverlayRenderer, PALETTE, classColor, hitAt, kindCount, kindOf } from "./overlay.js";
import { Stage, ViewState, loadImage } from "./stage.js";

const data = pageData();
const image = data.image;
const PAGE = 10000;
const MAX_ANNOTATIONS = 200000;
const ACTIVE = new Set(["queued", "processing"]);
const POLL_MS = 3000;

const state = {
  analyses: [],
  colors: new Map(),
  details: new Map(), // id -> {annotations, total, loading, error}
  visible: new Set(),
  kinds: new Set(KINDS),
  opacity: 0.9,
  threshold: 0,
  labels: true,
  colorByClass: false,
  hiddenClasses: new Set(),
  hits: [],
  firstLoad: true,
};

const errorBox = document.getElementById("error");
const list = document.getElementById("analyses");
const summary = document.getElementById("drawn-summary");
const refreshNote = document.getElementById("refresh-note");
const overlayCanvas = document.getElementById("overlay");
const tip = document.getElementById("hover-tip");
const stageMessage = document.getElementById("stage-message");
const viewState = new ViewState();
const renderer = new OverlayRenderer({
  onAsyncLoad: (error) => {
    if (error) showError(errorBox, error);
    mainStage.render();
  },
});
const mainStage = new Stage(document.getElementById("main-stage"), { onRender: draw, viewState });
const originalStage = new Stage(document.getElementById("original-stage"), { viewState });
window.lookoutOverlay = { ready: false, counts: Object.fromEntries(KINDS.map((k) => [k, 0])), drawn: 0 };

function colorOf(id) {
  if (!state.colors.has(id)) state.colors.set(id, PALETTE[state.colors.size % PALETTE.length]);
  return state.colors.get(id);
}

function layers() {
  return state.analyses
    .filter((a) => state.visible.has(a.id) && state.details.get(a.id)?.annotations)
    .map((a) => ({
      id: a.id,
      name: `${a.model_name} ${a.model_version}`.trim(),
      short: a.model_name,
      color: colorOf(a.id),
      colorOf: state.colorByClass ? (ann) => classColor(ann.class_name) : null,
      styleOf: state.hiddenClasses.size ? (ann) => (state.hiddenClasses.has(ann.class_name) ? null : undefined) : null,
      annotations: state.details.get(a.id).annotations,
      heatmapUrl: (name) => `/api/analyses/${a.id}/artifacts/${encodeURIComponent(name)}`,
    }));
}

function draw(ctx, view) {
  const started = performance.now();
  const result = renderer.draw(ctx, view, layers(), {
    kinds: state.kinds,
    opacity: state.opacity,
    threshold: state.threshold,
    labels: state.labels,
  });
  state.hits = result.hits;
  const ms = performance.now() - started;
  overlayCanvas.dataset.drawnCount = String(result.drawn);
  window.lookoutOverlay = {
    ready: !state.firstLoad,
    counts: result.counts,
    drawn: result.drawn,
    renderMs: ms,
    view: { scale: view.scale, ox: view.ox, oy: view.oy, w: view.w, h: view.h, dpr: view.dpr },
    visible: [...state.visible],
  };
  updateCounts();
}

function renderClasses() {
  const counts = new Map();
  for (const layer of layers()) {
    for (const a of layer.annotations) counts.set(a.class_name, (counts.get(a.class_name) || 0) + 1);
  }
  const panel = document.getElementById("classes-panel");
  panel.hidden = counts.size === 0;
  const list = document.getElementById("classes");
  const names = [...counts.keys()].sort((x, y) => counts.get(y) - counts.get(x) || x.localeCompare(y));
  list.replaceChildren(
    ...names.slice(0, 200).map((name) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      if (state.colorByClass) swatch.style.background = classColor(name);
      else swatch.hidden = true;
      const box = h("input", {
        type: "checkbox",
        checked: !state.hiddenClasses.has(name),
        onchange: (event) => {
          if (event.target.checked) state.hiddenClasses.delete(name);
          else state.hiddenClasses.add(name);
          mainStage.render();
        },
      });
      return h("li", {}, h("label", {}, box, swatch, h("span", { class: "class-name" }, name), h("span", { class: "muted small" }, counts.get(name).toLocaleString())));
    }),
  );
}

function updateCounts() {
  // Chip counts: everything loaded for visible analyses (before the threshold), per kind.
  const totals = Object.fromEntries(KINDS.map((k) => [k, 0]));
  for (const layer of layers()) {
    for (const a of layer.annotations) {
      const kind = kindOf(a);
      if (kind in totals) totals[kind] += 1;
    }
  }
  for (const kind of KINDS) {
    const node = document.querySelector(`[data-count="${kind}"]`);
    if (node) node.textContent = totals[kind].toLocaleString();
  }
  const classKey = [...new Set(layers().flatMap((l) => l.annotations.map((a) => a.class_name)))].sort().join("|");
  if (renderClasses.shown !== classKey + state.colorByClass) {
    renderClasses.shown = classKey + state.colorByClass;
    renderClasses();
  }
  const counts = window.lookoutOverlay.counts;
  const parts = KINDS.filter((k) => counts[k]).map((k) => kindCount(k, counts[k]));
  if (state.firstLoad) return;
  if (!state.analyses.length) {
    summary.textContent = "No analyses of this image yet.";
  } else if (!state.visible.size) {
    summary.textContent = "No analysis shown: tick one in the panel to draw it.";
  } else {
    const hidden = state.threshold > 0 ? ` at confidence ≥ ${state.threshold.toFixed(2)}` : "";
    summary.textContent = parts.length ? `Drawn${hidden}: ${parts.join(", ")}.` : `Nothing to draw${hidden}.`;
  }
}

async function loadAnnotations(analysis) {
  const entry = { annotations: null, total: 0, loading: true, error: null };
  state.details.set(analysis.id, entry);
  renderList();
  try {
    const first = await api(`/api/analyses/${analysis.id}?annotations_limit=${PAGE}`);
    let annotations = first.annotations;
    const total = first.annotations_total;
    while (annotations.length < Math.min(total, MAX_ANNOTATIONS)) {
      const page = await api(`/api/analyses/${analysis.id}/annotations?limit=${PAGE}&offset=${annotations.length}`);
      if (!page.items.length) break;
      annotations = annotations.concat(page.items);
    }
    entry.annotations = annotations;
    entry.total = total;
    if (total > annotations.length) {
      stageMessage.textContent = `Showing the first ${annotations.length.toLocaleString()} of ${total.toLocaleString()} annotations of ${analysis.model_name}.`;
      stageMessage.hidden = false;
    }
  } catch (error) {
    entry.error = describe(error);
    showError(errorBox, error);
  } finally {
    entry.loading = false;
  }
  renderList();
  mainStage.render();
}

function renderList() {
  list.replaceChildren();
  if (!state.analyses.length) {
    list.append(
      h("li", { class: "muted small" },
        "No analyses yet. A pipeline creates one with ",
        h("code", {}, `POST /api/images/${image.id}/analyses`),
        "; it appears here while it runs."),
    );
    return;
  }
  for (const analysis of state.analyses) {
    const detail = state.details.get(analysis.id);
    const on = state.visible.has(analysis.id);
    const color = colorOf(analysis.id);
    const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = color;
    const checkbox = h("input", {
      type: "checkbox",
      checked: on,
      "aria-label": `Show ${analysis.model_name} ${analysis.model_version}`,
      onchange: (event) => toggleAnalysis(analysis, event.target.checked),
    });
    const count = detail?.annotations
      ? `${detail.total.toLocaleString()} annotation${detail.total === 1 ? "" : "s"}`
      : detail?.loading
        ? "loading annotations…"
        : analysis.summary && typeof analysis.summary.total_detections === "number"
          ? `${analysis.summary.total_detections} detections`
          : "";
    const statusBadge = h("span", { class: `badge status-${analysis.status}${ACTIVE.has(analysis.status) ? " processing-dot" : ""}` }, analysis.status);
    list.append(
      h("li", { class: `analysis${on ? " on" : ""}`, dataset: { analysisId: analysis.id } },
        swatch,
        h("div", { class: "analysis-title" },
          h("label", {}, checkbox, analysis.model_name),
          h("span", { class: "muted small" }, analysis.model_version || ""),
          statusBadge),
        h("div", { class: "analysis-meta" }, [count, formatWhen(analysis.completed_at || analysis.created_at)].filter(Boolean).join(" · ")),
        analysis.error_message ? h("div", { class: "analysis-error" }, analysis.error_message) : null,
        h("div", { class: "analysis-actions" },
          h("span", { class: "muted small" }, "Export"),
          h("a", { class: "button ghost", href: `/api/analyses/${analysis.id}/export?format=json`, download: "", "aria-label": `Export ${analysis.model_name} as JSON` }, "JSON"),
          h("a", { class: "button ghost", href: `/api/analyses/${analysis.id}/export?format=csv`, download: "", "aria-label": `Export ${analysis.model_name} as CSV` }, "CSV"),
          h("a", { class: "button ghost push", href: `/images/${image.id}/compare?a=${analysis.id}` }, "Compare…")),
      ),
    );
  }
}

function toggleAnalysis(analysis, on) {
  if (on) {
    state.visible.add(analysis.id);
    if (!state.details.has(analysis.id)) loadAnnotations(analysis);
  } else {
    state.visible.delete(analysis.id);
  }
  renderList();
  mainStage.render();
}

async function refresh() {
  let page;
  try {
    page = await api(`/api/images/${image.id}/analyses?limit=200`);
    errorBox.hidden = true;
  } catch (error) {
    showError(errorBox, error);
    schedule(true);
    return;
  }
  const previous = new Map(state.analyses.map((a) => [a.id, a.status]));
  state.analyses = page.items;
  for (const a of [...state.analyses].reverse()) colorOf(a.id);
  if (state.firstLoad) {
    const completed = state.analyses.filter((a) => a.status === "completed");
    const initial = completed.length <= 4 ? completed : completed.slice(0, 1);
    for (const a of initial) state.visible.add(a.id);
  }
  const loads = [];
  for (const analysis of state.analyses) {
    const before = previous.get(analysis.id);
    const finishedNow = before !== undefined && before !== analysis.status && !ACTIVE.has(analysis.status);
    if (finishedNow) {
      state.details.delete(analysis.id);
      if (analysis.status === "completed") state.visible.add(analysis.id);
    }
    if (state.visible.has(analysis.id) && !state.details.has(analysis.id)) loads.push(loadAnnotations(analysis));
  }
  renderList();
  await Promise.all(loads);
  state.firstLoad = false;
  mainStage.render();
  schedule(false);
}

function schedule(failed) {
  clearTimeout(schedule.timer);
  const active = state.analyses.filter((a) => ACTIVE.has(a.status)).length;
  if (active || failed) {
    refreshNote.textContent = failed ? "retrying…" : `refreshing while ${active} ${active === 1 ? "runs" : "run"}`;
    schedule.timer = setTimeout(refresh, POLL_MS);
  } else {
    refreshNote.textContent = "";
  }
}

// --- controls ---

for (const box of document.querySelectorAll("input[data-kind]")) {
  box.addEventListener("change", () => {
    if (box.checked) state.kinds.add(box.dataset.kind);
    else state.kinds.delete(box.dataset.kind);
    mainStage.render();
  });
}
const opacity = document.getElementById("opacity");
const opacityOut = document.getElementById("opacity-out");
opacity.addEventListener("input", () => {
  state.opacity = Number(opacity.value);
  opacityOut.textContent = `${Math.round(state.opacity * 100)}%`;
  mainStage.render();
});
const threshold = document.getElementById("threshold");
const thresholdOut = document.getElementById("threshold-out");
function setThreshold(value) {
  state.threshold = Math.min(1, Math.max(0, Math.round(value * 100) / 100));
  threshold.value = String(state.threshold);
  thresholdOut.textContent = state.threshold.toFixed(2);
  mainStage.render();
}
threshold.addEventListener("input", () => setThreshold(Number(threshold.value)));
const labels = document.getElementById("labels");
labels.addEventListener("change", () => {
  state.labels = labels.checked;
  mainStage.render();
});
document.getElementById("color-by-class").addEventListener("change", (event) => {
  state.colorByClass = event.target.checked;
  mainStage.render();
});
const sideBySide = document.getElementById("side-by-side");
function setSideBySide(on) {
  sideBySide.checked = on;
  document.getElementById("original-pane").hidden = !on;
  document.getElementById("overlay-caption").hidden = !on;
  requestAnimationFrame(() => {
    originalStage.resize();
    mainStage.resize();
  });
}
sideBySide.addEventListener("change", () => setSideBySide(sideBySide.checked));
document.getElementById("zoom-reset").addEventListener("click", () => viewState.reset());

overlayCanvas.addEventListener("pointermove", (event) => {
  if (mainStage.dragging) {
    tip.hidden = true;
    return;
  }
  const found = hitAt(state.hits, event.offsetX, event.offsetY);
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

const KIND_KEYS = { b: "bounding_box", p: "polygon", m: "mask", k: "keypoint", c: "classification", h: "heatmap" };
document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || isTyping(event) || helpIsOpen() || event.ctrlKey || event.metaKey || event.altKey) return;
  const kind = KIND_KEYS[event.key];
  if (kind) {
    const box = document.querySelector(`input[data-kind="${kind}"]`);
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change"));
  } else if (event.key === "l") {
    labels.checked = !labels.checked;
    labels.dispatchEvent(new Event("change"));
  } else if (event.key === "s") {
    setSideBySide(!sideBySide.checked);
  } else if (event.key === "+" || event.key === "=") {
    setThreshold(state.threshold + 0.05);
  } else if (event.key === "-") {
    setThreshold(state.threshold - 0.05);
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
    originalStage.setImage(element, image.width, image.height);
  })
  .catch((error) => showError(errorBox, error));
if (data.ml_enabled) {
  refresh();
} else {
  state.firstLoad = false;
  list.replaceChildren(h("li", { class: "muted small" }, "The ML analysis API is turned off on this server (ML_ANALYSIS_ENABLED=false)."));
  summary.textContent = "";
}
