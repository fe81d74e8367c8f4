// Drawing the review: tracks and raw predictions on the frame's overlay canvas, and the panels
// (track list, track editor, filmstrip, player controls, messages) from the model's state.
import { formatWhen, h } from "./api.js";
import { labelTag } from "./overlay.js";
import { FP_KEYS, SMOKE_KEYS } from "./review-keys.js";
import { trackState } from "./review-model.js";

export const TRACK_COLORS = ["#ff8c1a", "#3d9bff", "#f25ccf", "#2fbf71", "#ffd23f", "#9d7bff", "#ff5a6e", "#19c6c6"];
const RAW_COLORS = ["#ffffff", "#ffd23f", "#7df9ff", "#ff9ecf", "#b8ff7d"];

const $ = (id) => document.getElementById(id);
const trackColor = (index) => TRACK_COLORS[index % TRACK_COLORS.length];

/**
 * Draw the current frame's tracks (and raw predictions when shown, and the box being drawn) on
 * the overlay. Returns the counts drawn, or null when there is no frame.
 */
export function drawOverlay(ctx, view, model, ui) {
  let drawn = 0;
  const X = (xn) => view.ox + xn * view.w * view.scale;
  const Y = (yn) => view.oy + yn * view.h * view.scale;
  const placed = [];
  const frame = model.frame;
  if (!frame) return null;
  let raw = 0;
  // Another sequence's object on this shared frame: always shown, grey, so the reviewer sees
  // what its sibling sequence labels (never one of this sequence's tracks).
  for (const p of frame.predictions) {
    if (!p.context || !p.bbox_xyxyn || ui.showRaw) continue;
    const [x1, y1, x2, y2] = p.bbox_xyxyn;
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "rgba(200,200,200,.9)";
    ctx.strokeRect(X(x1), Y(y1), X(x2) - X(x1), Y(y2) - Y(y1));
    ctx.setLineDash([]);
    labelTag(ctx, "other object", X(x1), Y(y2) + 1, "#9aa0a6", { below: true, placed });
  }
  if (ui.showRaw) {
    const models = [...new Set(model.frames.flatMap((f) => f.predictions.map((p) => p.model_name)))];
    for (const p of frame.predictions) {
      if (!p.bbox_xyxyn) continue;
      const [x1, y1, x2, y2] = p.bbox_xyxyn;
      const color = RAW_COLORS[models.indexOf(p.model_name) % RAW_COLORS.length];
      ctx.setLineDash([5, 4]);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "rgba(0,0,0,.6)";
      ctx.strokeRect(X(x1), Y(y1), X(x2) - X(x1), Y(y2) - Y(y1));
      ctx.strokeStyle = color;
      ctx.lineDashOffset = 2;
      ctx.strokeRect(X(x1), Y(y1), X(x2) - X(x1), Y(y2) - Y(y1));
      ctx.lineDashOffset = 0;
      ctx.setLineDash([]);
      labelTag(ctx, `${p.model_name} ${p.confidence === null ? "" : p.confidence.toFixed(2)}`, X(x1), Y(y2) + 1, color, { below: true, placed });
      raw += 1;
    }
  }
  model.tracks.forEach((track, index) => {
    const box = model.boxOn(track);
    if (!box) return;
    const color = trackColor(index);
    const selected = index === model.selected;
    const [x1, y1, x2, y2] = box.xyxyn;
    const sx = X(x1);
    const sy = Y(y1);
    const w = X(x2) - sx;
    const hgt = Y(y2) - sy;
    const info = trackState(track);
    ctx.lineWidth = selected ? 4.5 : 3.5;
    ctx.strokeStyle = "rgba(0,0,0,.6)";
    ctx.strokeRect(sx, sy, w, hgt);
    ctx.setLineDash(info.kind === "fp" ? [8, 5] : []);
    ctx.lineWidth = selected ? 2.5 : 1.75;
    ctx.strokeStyle = color;
    ctx.strokeRect(sx, sy, w, hgt);
    ctx.setLineDash([]);
    if (selected) {
      ctx.fillStyle = "rgba(255,255,255,.08)";
      ctx.fillRect(sx, sy, w, hgt);
      for (const [hx, hy] of [[sx, sy], [sx + w, sy], [sx, sy + hgt], [sx + w, sy + hgt]]) {
        ctx.fillStyle = "#fff";
        ctx.fillRect(hx - 4, hy - 4, 8, 8);
        ctx.strokeStyle = color;
        ctx.lineWidth = 2;
        ctx.strokeRect(hx - 4, hy - 4, 8, 8);
      }
    }
    const short = info.kind === "smoke" ? track.smoke_type : info.kind === "fp" ? "false positive" : "to confirm";
    labelTag(ctx, `T${index + 1} · ${short}`, sx - 1, sy - 1, color, { placed });
    drawn += 1;
  });
  if (ui.drag && ui.drag.type === "draw") {
    const [a, b] = [ui.drag.start, ui.drag.current];
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(X(a[0]), Y(a[1]), X(b[0]) - X(a[0]), Y(b[1]) - Y(a[1]));
    ctx.setLineDash([]);
  }
  return { drawn, raw };
}

/** The line under the track list. */
export function hint(text) {
  $("picker-hint").textContent = text;
}

/**
 * Render the panels and controls from the model and the page's state (`ui`). `on` holds the
 * actions the rendered buttons call: select(index), setSmoke(type), toggleFp(type), goTo(index).
 */
export function renderPanels(model, ui, on) {
  renderTracks(model, on);
  renderEditor(model, ui, on);
  renderFilmstrip(model, on);
  $("missed-smoke").checked = model.hasMissedSmoke;
  $("sequence-unsure").checked = model.isUnsure;
  $("dirty-note").textContent = model.dirty ? "Unsaved changes" : "";
  const frame = model.frame;
  $("frame-label").textContent = frame
    ? `Frame ${model.frameIndex + 1} / ${model.frames.length} · ${formatWhen(frame.captured_at).replace(" UTC", "")}`
    : "No frames";
  $("scrubber").value = String(model.frameIndex);
  $("draw-box").setAttribute("aria-pressed", String(ui.drawMode));
  $("overlay").style.cursor = ui.drawMode ? "crosshair" : "default";
  $("raw-toggle").checked = ui.showRaw;
  const play = $("play");
  play.textContent = ui.playing ? "❚❚" : "▶︎";
  play.setAttribute("aria-label", ui.playing ? "Pause" : "Play");
}

function renderTracks(model, on) {
  const list = $("tracks");
  list.replaceChildren();
  if (!model.tracks.length) {
    list.append(h("li", { class: "muted small" }, "No tracks. Press n to draw a box where there is smoke, or m if the model missed smoke."));
  }
  model.tracks.forEach((track, index) => {
    const info = trackState(track);
    const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = trackColor(index);
    const onFrame = model.boxOn(track) ? "on this frame" : "not on this frame";
    const button = h(
      "button",
      {
        type: "button",
        class: "track",
        "aria-pressed": String(index === model.selected),
        onclick: () => on.select(index),
      },
      swatch,
      h("span", { class: "track-name" }, `Track ${index + 1}`),
      h("span", { class: "track-frames" }, `${track.boxes.length}/${model.frames.length}`),
      h("span", { class: `track-state ${info.kind}` }, `${info.text} · ${onFrame}`),
    );
    list.append(h("li", {}, button));
  });
}

function renderEditor(model, ui, on) {
  const editor = $("track-editor");
  const track = model.selectedTrack;
  editor.hidden = !track;
  $("fp-picker").hidden = !(track && ui.picker === "fp");
  if (!track) {
    if (ui.picker !== "fp") hintPicker(ui);
    return;
  }
  const types = $("smoke-types");
  types.replaceChildren(
    ...Object.entries(SMOKE_KEYS).map(([key, type]) =>
      h(
        "button",
        {
          type: "button",
          class: "seg",
          role: "radio",
          "aria-checked": String(track.decision === "smoke" && track.smoke_type === type),
          onclick: () => on.setSmoke(type),
        },
        type,
        h("kbd", {}, key),
      ),
    ),
  );
  const smoke = track.decision === "smoke";
  const falsePositive = track.decision === "false_positive";
  $("mark-smoke").classList.toggle("active", smoke);
  $("mark-smoke").classList.toggle("smoke-on", smoke && Boolean(track.smoke_type));
  $("mark-fp").classList.toggle("active", falsePositive);
  $("mark-unsure").classList.toggle("active", track.decision === "unsure");
  $("mark-unsure").setAttribute("aria-pressed", String(track.decision === "unsure"));
  $("fp-summary").textContent = falsePositive
    ? track.false_positive_types.map((t) => t.replace(/_/g, " ")).join(", ") || "no type yet"
    : "";
  $("delete-box").disabled = !model.boxOn(track);
  const grid = $("fp-grid");
  grid.replaceChildren(
    ...model.falsePositiveTypes.map((type) =>
      h(
        "button",
        {
          type: "button",
          class: "fp-option",
          role: "checkbox",
          "aria-checked": String(track.false_positive_types.includes(type)),
          onclick: () => on.toggleFp(type),
        },
        h("kbd", {}, FP_KEYS[type] || ""),
        type.replace(/_/g, " "),
      ),
    ),
  );
  hintPicker(ui);
}

function hintPicker(ui) {
  if (ui.picker === "smoke") hint("Smoke type: 1 wildfire · 2 industrial · 3 other (Esc to keep it as is).");
  else if (ui.picker === "fp") hint("False positive types: press the letters shown, Enter or Esc when done.");
  else if (ui.drawMode) hint("Draw mode: drag on the frame, or Enter to place a box. Esc cancels.");
}

function renderFilmstrip(model, on) {
  const strip = $("filmstrip");
  if (strip.children.length !== model.frames.length) {
    strip.replaceChildren(
      ...model.frames.map((frame, index) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "frame-thumb", "aria-label": `Frame ${index + 1}`, onclick: () => on.goTo(index) },
            h("img", { src: frame.thumbnail_url, alt: "", loading: "lazy" }),
            h("span", { class: "frame-num" }, String(index + 1)),
            h("span", { class: "marks" }),
          ),
        ),
      ),
    );
  }
  [...strip.querySelectorAll(".frame-thumb")].forEach((button, index) => {
    const current = index === model.frameIndex;
    button.setAttribute("aria-current", String(current));
    const marks = button.querySelector(".marks");
    marks.replaceChildren();
    model.tracks.forEach((track, t) => {
      if (!model.boxOn(track, index)) return;
      const mark = h("span", { class: "mark" });
      mark.style.background = trackColor(t);
      marks.append(mark);
    });
    if (current) {
      // Scroll the strip only (scrollIntoView would also scroll the page).
      const left = button.offsetLeft - strip.offsetLeft;
      if (left < strip.scrollLeft || left + button.offsetWidth > strip.scrollLeft + strip.clientWidth) {
        strip.scrollLeft = left - (strip.clientWidth - button.offsetWidth) / 2;
      }
    }
  });
}

/** The save notice: kind "", "ok", "warn" or "error", then its text and elements. */
export function message(kind, ...parts) {
  const notice = $("save-message");
  notice.className = `notice ${kind}`;
  notice.replaceChildren(...parts);
  notice.hidden = false;
}

/** The review's stage badge and who reviewed it (or which model drafted it). */
export function renderReviewMeta(review) {
  const stage = review ? review.processing_stage : null;
  const badge = $("stage-badge");
  badge.className = `badge stage-${stage || "none"}`;
  badge.textContent = (stage || "no review").replace(/_/g, " ");
  $("reviewed-by").textContent = review && review.reviewed_by
    ? `Reviewed by ${review.reviewed_by} · ${formatWhen(review.reviewed_at)}`
    : review && review.draft_params && review.draft_params.model_name
      ? `Draft from ${review.draft_params.model_name} predictions`
      : "";
}

/** The message over the frame (loading, could not load, no frames); null hides it. */
export function stageMessage(text) {
  const element = $("stage-message");
  if (text !== null) element.textContent = text;
  element.hidden = text === null;
}

/**
 * Draw one frame of the crop loop: the `region` ([x1, y1, x2, y2] normalized) of the frame's
 * image enlarged into `canvas` (at most 360 x 240 CSS pixels, the region's shape), the track's
 * box on that frame (if any) in its colour, and a label.
 */
export function drawCrop(canvas, { image, region, box, trackIndex, label }) {
  const [x1, y1, x2, y2] = region;
  const iw = image ? image.naturalWidth : 16;
  const ih = image ? image.naturalHeight : 9;
  const aspect = ((x2 - x1) * iw) / Math.max(1e-6, (y2 - y1) * ih);
  let width = 360;
  let height = width / aspect;
  if (height > 240) {
    height = 240;
    width = height * aspect;
  }
  width = Math.round(width);
  height = Math.round(height);
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#14171c";
  ctx.fillRect(0, 0, width, height);
  if (image) {
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(image, x1 * iw, y1 * ih, (x2 - x1) * iw, (y2 - y1) * ih, 0, 0, width, height);
  }
  if (box) {
    const X = (xn) => ((xn - x1) / (x2 - x1)) * width;
    const Y = (yn) => ((yn - y1) / (y2 - y1)) * height;
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = trackColor(trackIndex);
    ctx.strokeRect(X(box[0]), Y(box[1]), X(box[2]) - X(box[0]), Y(box[3]) - Y(box[1]));
  }
  const text = image ? label : `${label} · loading`;
  ctx.font = "12px system-ui, sans-serif";
  const tw = ctx.measureText(text).width;
  ctx.fillStyle = "rgba(0,0,0,.6)";
  ctx.fillRect(0, height - 18, tw + 10, 18);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, 5, height - 5);
}
