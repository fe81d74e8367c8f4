// The evaluation page: run evaluations, draw precision-recall curves, compare models.
import { api, formatWhen, h, pageData, showError } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#d9480f", "#1c7ed6", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d"];
const PLOT = { left: 48, top: 14, width: 490, height: 280 };
// What an outcome's box is, in the gallery's legend (colours: .outcome-box.<outcome> in app.css).
const BOX_MEANING = { fn: "missed truth box", fp: "the model's false alarm", tp: "the model's hit" };

const data = pageData();
const shown = new Map(); // evaluation key -> metrics
const errorBox = document.getElementById("error");
const statusLine = document.getElementById("status");

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function label(metrics) {
  const { name, version } = metrics.model;
  return version ? `${name}@${version}` : name;
}

/** A model's name, whole in a title when the cell is too narrow to show it all. */
function modelName(text, tag = "span") {
  return h(tag, { class: "model-name", title: text }, text);
}

function num(value, digits = 3) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

function pct(value) {
  return value === null || value === undefined ? "—" : `${(100 * value).toFixed(1)}%`;
}

function drawChart() {
  const chart = document.getElementById("pr-chart");
  chart.replaceChildren();
  const x = (r) => PLOT.left + r * PLOT.width;
  const y = (p) => PLOT.top + (1 - p) * PLOT.height;
  for (let i = 0; i <= 10; i += 1) {
    const v = i / 10;
    chart.append(svg("line", { x1: x(0), x2: x(1), y1: y(v), y2: y(v), stroke: "#e3e6ea" }));
    chart.append(svg("line", { x1: x(v), x2: x(v), y1: y(0), y2: y(1), stroke: "#e3e6ea" }));
    if (i % 2 === 0) {
      chart.append(svg("text", { x: x(v), y: y(0) + 16, "text-anchor": "middle", "font-size": 11, fill: "#5b6470" }, v.toFixed(1)));
      chart.append(svg("text", { x: x(0) - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6470" }, v.toFixed(1)));
    }
  }
  chart.append(svg("rect", { x: x(0), y: y(1), width: PLOT.width, height: PLOT.height, fill: "none", stroke: "#98a1ad" }));
  chart.append(svg("text", { x: x(0.5), y: y(0) + 32, "text-anchor": "middle", "font-size": 12, fill: "#2d333a" }, "recall"));
  chart.append(svg("text", { x: 12, y: y(0.5), "text-anchor": "middle", "font-size": 12, fill: "#2d333a", transform: `rotate(-90 12 ${y(0.5)})` }, "precision"));
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  let index = 0;
  for (const metrics of shown.values()) {
    const color = COLORS[index % COLORS.length];
    index += 1;
    const curve = metrics.overall.pr_curve;
    if (curve) {
      const points = curve.map((p, i) => `${x(metrics.recall_points[i]).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
      const line = svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 2.2 });
      line.append(svg("title", {}, `${label(metrics)}: AP50 ${num(metrics.overall.ap50)}`));
      chart.append(line);
    }
    const swatch = svg("svg", { width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true" });
    swatch.append(svg("rect", { x: 1, y: 5, width: 12, height: 4, fill: color }));
    legend.append(h("li", {}, swatch, " ", modelName(label(metrics)), ` · AP50 ${num(metrics.overall.ap50)}`));
  }
}

/**
 * Where a box in normalized coordinates lies on a thumbnail drawn with object-fit: contain
 * (centered) in its tile, as percentages of the tile: letterbox bars offset it.
 */
function boxOnThumbnail(xyxyn, natural, tile) {
  const [x1, y1, x2, y2] = xyxyn.map((v) => Math.min(1, Math.max(0, v)));
  const scale = Math.min(tile.width / natural.width, tile.height / natural.height);
  const w = (natural.width * scale) / tile.width;
  const h = (natural.height * scale) / tile.height;
  const left = (1 - w) / 2;
  const top = (1 - h) / 2;
  return {
    left: 100 * (left + x1 * w),
    top: 100 * (top + y1 * h),
    width: 100 * (x2 - x1) * w,
    height: 100 * (y2 - y1) * h,
  };
}

// The gallery's tiles are 16:9 (.tile-link, aspect-ratio): percentages of the tile keep the
// box right when the tiles resize.
const TILE = { width: 16, height: 9 };

function outcomeTile(item, outcome, words) {
  const caption = item.confidence === null ? item.class_name : `${item.class_name} ${num(item.confidence, 2)}`;
  const box = h("span", {
    class: `outcome-box ${outcome}`,
    "aria-hidden": "true",
    hidden: true,
    dataset: { xyxyn: JSON.stringify(item.xyxyn) },
  });
  const img = h("img", { src: item.thumbnail_url, loading: "lazy", alt: `${words} on image ${item.image_id}` });
  const link = h("a", { href: `/images/${item.image_id}`, class: "tile-link" }, img, box);
  const place = () => {
    if (!img.naturalWidth || !img.naturalHeight) return;
    const tile = link.clientWidth && link.clientHeight ? { width: link.clientWidth, height: link.clientHeight } : TILE;
    const at = boxOnThumbnail(item.xyxyn, { width: img.naturalWidth, height: img.naturalHeight }, tile);
    box.style.left = `${at.left}%`;
    box.style.top = `${at.top}%`;
    box.style.width = `${at.width}%`;
    box.style.height = `${at.height}%`;
    box.hidden = false;
  };
  img.addEventListener("load", place);
  if (img.complete) place();
  return h("li", { class: "tile outcome-tile" },
    link,
    h("div", { class: "tile-meta" }, h("span", { class: "tile-time" }, caption)));
}

async function showOutcomes(metrics, outcome) {
  const card = document.getElementById("outcomes-card");
  const list = document.getElementById("outcomes");
  const legend = document.getElementById("outcomes-legend");
  const words = { fn: "misses", fp: "false alarms", tp: "hits" }[outcome];
  document.getElementById("outcomes-title").textContent = `${label(metrics)}: ${words}`;
  legend.replaceChildren(
    h("span", { class: `outcome-swatch ${outcome}`, "aria-hidden": "true" }),
    ` ${BOX_MEANING[outcome]}, drawn over each thumbnail`,
  );
  legend.hidden = false;
  list.replaceChildren();
  card.hidden = false;
  try {
    const page = await api(`/api/evaluations/${metrics.id}/outcomes?outcome=${outcome}&limit=48`);
    if (!page.items.length) list.append(h("li", { class: "muted" }, `No ${words}.`));
    for (const item of page.items) list.append(outcomeTile(item, outcome, words));
    if (page.total > page.items.length) list.append(h("li", { class: "muted" }, `and ${page.total - page.items.length} more`));
  } catch (error) {
    showError(errorBox, error);
  }
}

function drawTable() {
  const body = document.querySelector("#compare tbody");
  body.replaceChildren();
  for (const metrics of shown.values()) {
    const o = metrics.overall;
    const s = metrics.sequences;
    const boxes = h("td", { class: "boxes-cell" });
    if (metrics.id) {
      boxes.append(
        h("button", { type: "button", class: "button ghost small", onclick: () => showOutcomes(metrics, "fn") }, `misses ${o.fn}`),
        " ",
        h("button", { type: "button", class: "button ghost small", onclick: () => showOutcomes(metrics, "fp") }, `false alarms ${o.fp}`),
      );
    } else {
      boxes.append(`${o.fn} missed, ${o.fp} false`);
    }
    body.append(
      h("tr", {},
        h("td", { class: "model-cell" }, modelName(label(metrics), "strong")),
        h("td", {}, metrics.images),
        h("td", {}, num(o.ap50)),
        h("td", {}, num(o.ap)),
        h("td", {}, num(o.precision)),
        h("td", {}, num(o.recall)),
        h("td", {}, num(o.f1)),
        h("td", {}, o.best_f1 ? `${num(o.best_f1.f1)} (${num(o.best_f1.threshold, 2)})` : "—"),
        h("td", {}, `${s.caught}/${s.smoke_sequences} (${pct(s.catch_rate)})`),
        h("td", {}, num(s.frames_to_fire.median, 1)),
        h("td", {}, `${s.false_alarm_sequences}/${s.sequences_without_smoke}`),
        boxes),
    );
  }
  if (!shown.size) {
    body.append(h("tr", {}, h("td", { colspan: 12, class: "muted" }, "Nothing to compare yet.")));
  }
}

function render() {
  drawChart();
  drawTable();
}

function add(metrics) {
  shown.set(metrics.id || `${label(metrics)}:${Date.now()}`, metrics);
}

function storedRow(run, fresh) {
  const model = run.model_version ? `${run.model_name}@${run.model_version}` : run.model_name;
  const fixed = (value) => (value === null || value === undefined ? "—" : Number(value).toFixed(3));
  return h("tr", { class: fresh ? "fresh" : null },
    h("td", { class: "when-cell" }, formatWhen(run.created_at)),
    h("td", { class: "model-cell" }, modelName(model)),
    h("td", {}, run.images ?? "—"),
    h("td", {}, fixed(run.ap50)),
    h("td", {}, fixed(run.f1)),
    h("td", {}, run.confidence_threshold ?? "—"),
    h("td", {}, h("button", { type: "button", class: "button ghost small", dataset: { showEvaluation: run.id } }, "Compare")));
}

/** Read the stored evaluations again (newest first) and redraw their list, marking `fresh` ids. */
async function refreshStored(fresh = new Set()) {
  const runs = await api(`/api/evaluations?project_id=${encodeURIComponent(data.project_id)}&limit=50`);
  data.evaluations = runs;
  document.querySelector("#stored tbody").replaceChildren(...runs.map((run) => storedRow(run, fresh.has(run.id))));
  document.getElementById("stored-wrap").hidden = !runs.length;
  document.getElementById("stored-empty").hidden = runs.length > 0;
}

async function runForm(form) {
  const fields = new FormData(form);
  const models = fields.getAll("model");
  errorBox.hidden = true;
  if (!models.length) {
    showError(errorBox, new Error("choose at least one model"));
    return;
  }
  const button = document.getElementById("run");
  button.disabled = true;
  shown.clear();
  const stored = new Set();
  try {
    for (const [i, value] of models.entries()) {
      statusLine.textContent = `Evaluating ${value} (${i + 1} of ${models.length})…`;
      const at = value.lastIndexOf("@");
      const mode = fields.get("class_mode");
      const body = {
        project_id: data.project_id,
        model_name: value.slice(0, at),
        model_version: value.slice(at + 1),
        stage: [fields.get("stage")],
        confidence_threshold: Number(fields.get("confidence_threshold")),
        iou_threshold: Number(fields.get("iou_threshold")),
        class_from: mode === "smoke_type" ? "smoke_type" : "smoke",
        class_agnostic: mode === "agnostic",
      };
      const metrics = await api("/api/evaluations", { method: "POST", body });
      if (metrics.id) stored.add(metrics.id);
      add(metrics);
      render();
    }
    statusLine.textContent = `Evaluated ${models.length} model${models.length > 1 ? "s" : ""}; stored with the outcome of every box.`;
  } catch (error) {
    showError(errorBox, error);
    statusLine.textContent = "";
  } finally {
    button.disabled = false;
  }
  // Even after a failure, the runs that were stored belong in the list.
  if (stored.size) {
    try {
      await refreshStored(stored);
    } catch (error) {
      showError(errorBox, error);
    }
  }
}

const form = document.getElementById("evaluate-form");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    runForm(form);
  });
}

// One listener for the stored list, whose rows are redrawn after every run.
document.getElementById("stored").addEventListener("click", async (event) => {
  const button = event.target.closest("[data-show-evaluation]");
  if (!button) return;
  try {
    const metrics = await api(`/api/evaluations/${button.dataset.showEvaluation}`);
    add(metrics);
    render();
  } catch (error) {
    showError(errorBox, error);
  }
});

// Start with the latest stored evaluation of each model, if any.
(async () => {
  const latest = new Map();
  for (const run of data.evaluations || []) {
    const key = `${run.model_name}@${run.model_version}`;
    if (!latest.has(key)) latest.set(key, run.id);
  }
  try {
    for (const id of [...latest.values()].slice(0, 4)) add(await api(`/api/evaluations/${id}`));
  } catch (error) {
    showError(errorBox, error);
  }
  render();
})();
