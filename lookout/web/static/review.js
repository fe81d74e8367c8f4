// Sequence review: frame player, draft tracks and raw predictions on each frame, labels per
// track, box editing, missed smoke, save with optimistic versioning, next in the queue.
import { ApiError, api, describe, formatWhen, h, helpIsOpen, isTyping, pageData } from "./api.js";
import { labelTag } from "./overlay.js";
import { Stage, loadImage } from "./stage.js";

const data = pageData();
const TRACK_COLORS = ["#ff8c1a", "#3d9bff", "#f25ccf", "#2fbf71", "#ffd23f", "#9d7bff", "#ff5a6e", "#19c6c6"];
const RAW_COLORS = ["#ffffff", "#ffd23f", "#7df9ff", "#ff9ecf", "#b8ff7d"];
const SMOKE_KEYS = { 1: "wildfire", 2: "industrial", 3: "other" };
const FP_KEYS = {
  antenna: "a", building: "b", cliff: "c", dark: "d", dust: "u", high_cloud: "h", low_cloud: "l",
  lens_flare: "f", lens_droplet: "p", light: "i", rain: "r", trail: "t", road: "o", sky: "s",
  tree: "e", water_body: "w", other: "x",
};
const HANDLE = 7;
const MIN_SIZE = 0.004;
const NUDGE = 0.005;

const state = {
  sequence: null,
  frames: [],
  frameIndex: 0,
  images: [],
  tracks: [],
  version: null,
  stage: null,
  hasMissedSmoke: false,
  selected: -1,
  showRaw: false,
  playing: false,
  timer: 0,
  fps: 2,
  drawMode: false,
  picker: null, // "smoke" | "fp" | null
  drag: null,
  dirty: false,
  undo: [],
  leaveArmed: 0,
  saving: false,
  ready: false,
};

const $ = (id) => document.getElementById(id);
const overlay = $("overlay");
const stage = new Stage($("stage"), { onRender: draw, zoomable: false });
const saveMessage = $("save-message");
const stageMessage = $("stage-message");
window.lookoutReview = { ready: false };

// --- model ---

function frameId(index = state.frameIndex) {
  return state.frames[index] ? state.frames[index].id : null;
}

function boxOn(track, index = state.frameIndex) {
  const id = frameId(index);
  return track.boxes.find((b) => b.frame_id === id) || null;
}

function trackState(track) {
  if (track.is_smoke && track.smoke_type) return { kind: "smoke", text: `Smoke · ${track.smoke_type}` };
  if (!track.is_smoke) {
    const types = track.false_positive_types.map((t) => t.replace(/_/g, " "));
    return { kind: "fp", text: types.length ? `False positive · ${types.join(", ")}` : "False positive · pick a type" };
  }
  const score = typeof track.confidence === "number" ? `, mean confidence ${track.confidence.toFixed(2)}` : "";
  return { kind: "todo", text: `To confirm (draft${score})` };
}

function normalizeTrack(raw) {
  return {
    is_smoke: raw.is_smoke !== false,
    smoke_type: raw.smoke_type || null,
    false_positive_types: [...(raw.false_positive_types || [])],
    confidence: raw.confidence ?? null,
    boxes: (raw.boxes || []).map((b) => ({ frame_id: b.frame_id, xyxyn: [...b.xyxyn], confidence: b.confidence ?? null })),
  };
}

function snapshot() {
  return JSON.stringify({ tracks: state.tracks, hasMissedSmoke: state.hasMissedSmoke, selected: state.selected });
}

/** Record the state before a change, so Ctrl+Z can bring it back. */
function remember() {
  state.undo.push(snapshot());
  if (state.undo.length > 200) state.undo.shift();
}

function changed() {
  state.dirty = true;
  state.leaveArmed = 0;
  refresh();
}

function undo() {
  const previous = state.undo.pop();
  if (!previous) {
    hint("Nothing to undo.");
    return;
  }
  const restored = JSON.parse(previous);
  state.tracks = restored.tracks;
  state.hasMissedSmoke = restored.hasMissedSmoke;
  state.selected = Math.min(restored.selected, state.tracks.length - 1);
  changed();
  hint("Undone.");
}

function clampBox([x1, y1, x2, y2]) {
  const c = (v) => Math.min(1, Math.max(0, v));
  let a = [c(Math.min(x1, x2)), c(Math.min(y1, y2)), c(Math.max(x1, x2)), c(Math.max(y1, y2))];
  if (a[2] - a[0] < MIN_SIZE) a[2] = Math.min(1, a[0] + MIN_SIZE);
  if (a[3] - a[1] < MIN_SIZE) a[3] = Math.min(1, a[1] + MIN_SIZE);
  if (a[2] - a[0] < MIN_SIZE) a[0] = a[2] - MIN_SIZE;
  if (a[3] - a[1] < MIN_SIZE) a[1] = a[3] - MIN_SIZE;
  a = a.map((v) => Math.round(v * 1e6) / 1e6);
  return a;
}

// --- drawing ---

function draw(ctx, view) {
  let drawn = 0;
  const X = (xn) => view.ox + xn * view.w * view.scale;
  const Y = (yn) => view.oy + yn * view.h * view.scale;
  const placed = [];
  const frame = state.frames[state.frameIndex];
  if (!frame) return;
  let raw = 0;
  if (state.showRaw) {
    const models = [...new Set(state.frames.flatMap((f) => f.predictions.map((p) => p.model_name)))];
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
  state.tracks.forEach((track, index) => {
    const box = boxOn(track);
    if (!box) return;
    const color = TRACK_COLORS[index % TRACK_COLORS.length];
    const selected = index === state.selected;
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
  if (state.drag && state.drag.type === "draw") {
    const [a, b] = [state.drag.start, state.drag.current];
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(X(a[0]), Y(a[1]), X(b[0]) - X(a[0]), Y(b[1]) - Y(a[1]));
    ctx.setLineDash([]);
  }
  overlay.dataset.drawnCount = String(drawn + raw);
  window.lookoutReview = {
    ...window.lookoutReview,
    drawnTracks: drawn,
    drawnRaw: raw,
    view: { scale: view.scale, ox: view.ox, oy: view.oy, w: view.w, h: view.h, dpr: view.dpr },
  };
  // Ready: the first frame drawn with its boxes, tracks listed, keys live (bench/ui.py).
  if (state.ready && stage.image && !performance.getEntriesByName("lookout:ready").length) performance.mark("lookout:ready");
}

// --- panels ---

function refresh() {
  renderTracks();
  renderEditor();
  renderFilmstrip();
  $("missed-smoke").checked = state.hasMissedSmoke;
  $("dirty-note").textContent = state.dirty ? "Unsaved changes" : "";
  const frame = state.frames[state.frameIndex];
  $("frame-label").textContent = frame
    ? `Frame ${state.frameIndex + 1} / ${state.frames.length} · ${formatWhen(frame.captured_at).replace(" UTC", "")}`
    : "No frames";
  $("scrubber").value = String(state.frameIndex);
  $("draw-box").setAttribute("aria-pressed", String(state.drawMode));
  overlay.style.cursor = state.drawMode ? "crosshair" : "default";
  $("raw-toggle").checked = state.showRaw;
  const play = $("play");
  play.textContent = state.playing ? "❚❚" : "▶︎";
  play.setAttribute("aria-label", state.playing ? "Pause" : "Play");
  stage.render();
  window.lookoutReview = {
    ...window.lookoutReview,
    ready: state.ready,
    frame: state.frameIndex,
    frames: state.frames.length,
    selected: state.selected,
    dirty: state.dirty,
    version: state.version,
    picker: state.picker,
    drawMode: state.drawMode,
    playing: state.playing,
    fps: state.fps,
    hasMissedSmoke: state.hasMissedSmoke,
    tracks: state.tracks.map((t) => ({
      is_smoke: t.is_smoke,
      smoke_type: t.smoke_type,
      false_positive_types: [...t.false_positive_types],
      boxes: t.boxes.length,
      box: boxOn(t) ? [...boxOn(t).xyxyn] : null,
    })),
  };
}

function renderTracks() {
  const list = $("tracks");
  list.replaceChildren();
  if (!state.tracks.length) {
    list.append(h("li", { class: "muted small" }, "No tracks. Press n to draw a box where there is smoke, or m if the model missed smoke."));
  }
  state.tracks.forEach((track, index) => {
    const info = trackState(track);
    const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = TRACK_COLORS[index % TRACK_COLORS.length];
    const onFrame = boxOn(track) ? "on this frame" : "not on this frame";
    const button = h(
      "button",
      {
        type: "button",
        class: "track",
        "aria-pressed": String(index === state.selected),
        onclick: () => select(index),
      },
      swatch,
      h("span", { class: "track-name" }, `Track ${index + 1}`),
      h("span", { class: "track-frames" }, `${track.boxes.length}/${state.frames.length}`),
      h("span", { class: `track-state ${info.kind}` }, `${info.text} · ${onFrame}`),
    );
    list.append(h("li", {}, button));
  });
}

function renderEditor() {
  const editor = $("track-editor");
  const track = state.tracks[state.selected];
  editor.hidden = !track;
  $("fp-picker").hidden = !(track && state.picker === "fp");
  if (!track) {
    if (state.picker !== "fp") hintPicker();
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
          "aria-checked": String(track.is_smoke && track.smoke_type === type),
          onclick: () => setSmoke(type),
        },
        type,
        h("kbd", {}, key),
      ),
    ),
  );
  $("mark-smoke").classList.toggle("active", track.is_smoke && Boolean(track.smoke_type));
  $("mark-smoke").classList.toggle("smoke-on", track.is_smoke && Boolean(track.smoke_type));
  $("mark-fp").classList.toggle("active", !track.is_smoke);
  $("fp-summary").textContent = !track.is_smoke
    ? track.false_positive_types.map((t) => t.replace(/_/g, " ")).join(", ") || "no type yet"
    : "";
  $("delete-box").disabled = !boxOn(track);
  const grid = $("fp-grid");
  grid.replaceChildren(
    ...data.false_positive_types.map((type) =>
      h(
        "button",
        {
          type: "button",
          class: "fp-option",
          role: "checkbox",
          "aria-checked": String(track.false_positive_types.includes(type)),
          onclick: () => toggleFp(type),
        },
        h("kbd", {}, FP_KEYS[type] || ""),
        type.replace(/_/g, " "),
      ),
    ),
  );
  hintPicker();
}

function hintPicker() {
  if (state.picker === "smoke") hint("Smoke type: 1 wildfire · 2 industrial · 3 other (Esc to keep it as is).");
  else if (state.picker === "fp") hint("False positive types: press the letters shown, Enter or Esc when done.");
  else if (state.drawMode) hint("Draw mode: drag on the frame, or Enter to place a box. Esc cancels.");
}

function hint(text) {
  $("picker-hint").textContent = text;
}

function renderFilmstrip() {
  const strip = $("filmstrip");
  if (strip.children.length !== state.frames.length) {
    strip.replaceChildren(
      ...state.frames.map((frame, index) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "frame-thumb", "aria-label": `Frame ${index + 1}`, onclick: () => goTo(index) },
            h("img", { src: frame.thumbnail_url, alt: "", loading: "lazy" }),
            h("span", { class: "frame-num" }, String(index + 1)),
            h("span", { class: "marks" }),
          ),
        ),
      ),
    );
  }
  [...strip.querySelectorAll(".frame-thumb")].forEach((button, index) => {
    const current = index === state.frameIndex;
    button.setAttribute("aria-current", String(current));
    const marks = button.querySelector(".marks");
    marks.replaceChildren();
    state.tracks.forEach((track, t) => {
      if (!boxOn(track, index)) return;
      const mark = h("span", { class: "mark" });
      mark.style.background = TRACK_COLORS[t % TRACK_COLORS.length];
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

// --- actions ---

function goTo(index) {
  if (!state.frames.length) return;
  state.frameIndex = Math.max(0, Math.min(state.frames.length - 1, index));
  showFrame();
  refresh();
}

/** Load frames a few at a time, the current one and those just after it first. */
const PRELOAD_AT_ONCE = 4;
let loading = 0;
function preload() {
  const order = state.frames.map((_, i) => (state.frameIndex + i) % state.frames.length);
  for (const index of order) {
    if (loading >= PRELOAD_AT_ONCE) return;
    const entry = state.images[index];
    if (!entry || entry.requested) continue;
    entry.requested = true;
    loading += 1;
    loadImage(state.frames[index].content_url)
      .then((image) => {
        entry.image = image;
      })
      .catch(() => {
        entry.error = true;
      })
      .finally(() => {
        loading -= 1;
        if (index === state.frameIndex) showFrame();
        preload();
      });
  }
}

function showFrame() {
  preload();
  const entry = state.images[state.frameIndex];
  const frame = state.frames[state.frameIndex];
  if (entry && entry.image) {
    stage.setImage(entry.image, frame.width, frame.height);
    stageMessage.hidden = true;
  } else if (entry && entry.error) {
    stageMessage.textContent = `Frame ${state.frameIndex + 1} could not be loaded.`;
    stageMessage.hidden = false;
  } else {
    stageMessage.textContent = "Loading frame…";
    stageMessage.hidden = false;
  }
}

function setPlaying(on) {
  state.playing = on && state.frames.length > 1;
  clearInterval(state.timer);
  if (state.playing) {
    if (state.frameIndex >= state.frames.length - 1) goTo(0);
    state.timer = setInterval(() => {
      if (state.frameIndex >= state.frames.length - 1) {
        setPlaying(false);
        return;
      }
      goTo(state.frameIndex + 1);
    }, 1000 / state.fps);
  }
  refresh();
}

function select(index, { jump = true } = {}) {
  if (!state.tracks.length) {
    state.selected = -1;
    refresh();
    return;
  }
  state.selected = ((index % state.tracks.length) + state.tracks.length) % state.tracks.length;
  state.picker = null;
  const track = state.tracks[state.selected];
  if (jump && !boxOn(track) && track.boxes.length) {
    // Jump to the nearest frame where the track has a box.
    const indexes = track.boxes.map((b) => state.frames.findIndex((f) => f.id === b.frame_id)).filter((i) => i >= 0);
    indexes.sort((a, b) => Math.abs(a - state.frameIndex) - Math.abs(b - state.frameIndex));
    if (indexes.length) state.frameIndex = indexes[0];
    showFrame();
  }
  hint(`Track ${state.selected + 1} selected: s smoke, f false positive, Delete removes its box.`);
  refresh();
}

function selectedTrack() {
  const track = state.tracks[state.selected];
  if (!track) hint("Select a track first (j / k, or click a box).");
  return track || null;
}

function markSmoke() {
  const track = selectedTrack();
  if (!track) return;
  remember();
  track.is_smoke = true;
  track.false_positive_types = [];
  state.picker = "smoke";
  changed();
}

function setSmoke(type) {
  const track = selectedTrack();
  if (!track) return;
  remember();
  track.is_smoke = true;
  track.smoke_type = type;
  track.false_positive_types = [];
  state.picker = null;
  hint(`Track ${state.selected + 1}: smoke, ${type}.`);
  changed();
}

function markFalsePositive() {
  const track = selectedTrack();
  if (!track) return;
  remember();
  track.is_smoke = false;
  track.smoke_type = null;
  state.picker = "fp";
  changed();
}

function toggleFp(type) {
  const track = selectedTrack();
  if (!track) return;
  remember();
  track.is_smoke = false;
  track.smoke_type = null;
  const types = new Set(track.false_positive_types);
  if (types.has(type)) types.delete(type);
  else types.add(type);
  track.false_positive_types = data.false_positive_types.filter((t) => types.has(t));
  state.picker = "fp";
  changed();
}

function closePicker() {
  state.picker = null;
  hint("");
  refresh();
}

function deleteBox() {
  const track = selectedTrack();
  if (!track) return;
  const box = boxOn(track);
  if (!box) {
    hint(`Track ${state.selected + 1} has no box on this frame.`);
    return;
  }
  remember();
  track.boxes = track.boxes.filter((b) => b !== box);
  if (!track.boxes.length) {
    state.tracks.splice(state.selected, 1);
    state.selected = Math.min(state.selected, state.tracks.length - 1);
    hint("Box removed; the track had no other box, so it was removed too.");
  } else {
    hint("Box removed from this frame.");
  }
  changed();
}

function deleteTrack() {
  const track = selectedTrack();
  if (!track) return;
  remember();
  state.tracks.splice(state.selected, 1);
  state.selected = Math.min(state.selected, state.tracks.length - 1);
  hint("Track removed (Ctrl+Z brings it back).");
  changed();
}

/** A new box on this frame: into the selected track if it has none here, else a new track. */
function addBox(xyxyn) {
  remember();
  const box = { frame_id: frameId(), xyxyn: clampBox(xyxyn), confidence: null };
  const track = state.tracks[state.selected];
  if (track && !boxOn(track)) {
    track.boxes.push(box);
    track.boxes.sort((a, b) => frameIndexOf(a.frame_id) - frameIndexOf(b.frame_id));
    hint(`Box added to track ${state.selected + 1} on frame ${state.frameIndex + 1}.`);
  } else {
    state.tracks.push({ is_smoke: true, smoke_type: null, false_positive_types: [], confidence: null, boxes: [box] });
    state.selected = state.tracks.length - 1;
    hint(`New track ${state.selected + 1}: confirm it with s or f.`);
  }
  state.drawMode = false;
  changed();
}

function frameIndexOf(id) {
  return state.frames.findIndex((f) => f.id === id);
}

function placeDefaultBox() {
  // Reuse the selected track's nearest box (propagating it to this frame), else a centred box.
  const track = state.tracks[state.selected];
  let box = [0.4, 0.4, 0.6, 0.6];
  if (track && track.boxes.length && !boxOn(track)) {
    const nearest = [...track.boxes].sort(
      (a, b) => Math.abs(frameIndexOf(a.frame_id) - state.frameIndex) - Math.abs(frameIndexOf(b.frame_id) - state.frameIndex),
    )[0];
    box = [...nearest.xyxyn];
  }
  addBox(box);
}

function toggleDrawMode(on = !state.drawMode) {
  state.drawMode = on;
  state.picker = null;
  if (!on) hint("");
  refresh();
}

function toggleMissed() {
  remember();
  state.hasMissedSmoke = !state.hasMissedSmoke;
  hint(state.hasMissedSmoke ? "Flagged: the model missed smoke in this sequence." : "Missed-smoke flag removed.");
  changed();
}

function nudge(dx, dy, resize) {
  const track = selectedTrack();
  const box = track && boxOn(track);
  if (!box) return;
  remember();
  const [x1, y1, x2, y2] = box.xyxyn;
  box.xyxyn = resize ? clampBox([x1, y1, x2 + dx, y2 + dy]) : clampBox(shift([x1, y1, x2, y2], dx, dy));
  changed();
}

function shift([x1, y1, x2, y2], dx, dy) {
  const mx = Math.max(-x1, Math.min(1 - x2, dx));
  const my = Math.max(-y1, Math.min(1 - y2, dy));
  return [x1 + mx, y1 + my, x2 + mx, y2 + my];
}

// --- save and navigation ---

function payload() {
  return {
    tracks: state.tracks.map((t) => ({
      is_smoke: t.is_smoke,
      smoke_type: t.is_smoke ? t.smoke_type : null,
      false_positive_types: t.is_smoke ? [] : t.false_positive_types,
      confidence: t.confidence,
      boxes: t.boxes.map((b) => ({ frame_id: b.frame_id, xyxyn: clampBox(b.xyxyn), confidence: b.confidence })),
    })),
    has_missed_smoke: state.hasMissedSmoke,
    processing_stage: "annotated",
    version: state.version,
  };
}

function message(kind, ...parts) {
  saveMessage.className = `notice ${kind}`;
  saveMessage.replaceChildren(...parts);
  saveMessage.hidden = false;
}

async function save() {
  if (state.saving || !state.ready) return;
  const unconfirmed = state.tracks.filter((t) => t.is_smoke && !t.smoke_type).length;
  const untyped = state.tracks.filter((t) => !t.is_smoke && !t.false_positive_types.length).length;
  state.saving = true;
  $("save").disabled = true;
  message("", "Saving…");
  try {
    const review = await api(data.api + "/review", { method: "PUT", body: payload() });
    state.version = review.version;
    state.dirty = false;
    state.undo = [];
    applyReviewMeta(review);
    const notes = [];
    if (unconfirmed) notes.push(`${unconfirmed} track${unconfirmed === 1 ? " was" : "s were"} saved as smoke without a type`);
    if (untyped) notes.push(`${untyped} false positive${untyped === 1 ? " has" : "s have"} no type`);
    message(
      notes.length ? "warn" : "ok",
      h("strong", {}, "Saved."),
      ` Stage: annotated, by ${review.reviewed_by || "you"} at ${formatWhen(review.reviewed_at)}.`,
      notes.length ? ` Note: ${notes.join("; ")}.` : "",
      " Press ] for the next sequence.",
    );
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      message(
        "error",
        h("strong", {}, "Not saved: someone else saved this sequence while you were reviewing it."),
        " Nothing was overwritten. Reload to see their review, then apply your changes again.",
        h("span", { class: "conflict-detail" }, `Lookout said: ${error.message}`),
        h("button", { type: "button", class: "button small", onclick: () => window.location.reload() }, "Reload their version"),
      );
      saveMessage.dataset.conflict = "true";
    } else {
      message("error", h("strong", {}, "Not saved. "), describe(error));
    }
  } finally {
    state.saving = false;
    $("save").disabled = false;
    refresh();
  }
}

function applyReviewMeta(review) {
  state.stage = review ? review.processing_stage : null;
  const badge = $("stage-badge");
  badge.className = `badge stage-${state.stage || "none"}`;
  badge.textContent = (state.stage || "no review").replace(/_/g, " ");
  $("reviewed-by").textContent = review && review.reviewed_by
    ? `Reviewed by ${review.reviewed_by} · ${formatWhen(review.reviewed_at)}`
    : review && review.draft_params && review.draft_params.model_name
      ? `Draft from ${review.draft_params.model_name} predictions`
      : "";
}

function next() {
  if (state.dirty && Date.now() - state.leaveArmed > 4000) {
    state.leaveArmed = Date.now();
    message("warn", h("strong", {}, "Unsaved changes. "), "Save with Enter, or press ] again to leave without saving.");
    return;
  }
  state.dirty = false;
  window.location.assign(data.next_url);
}

// --- pointer editing ---

function pointer(event) {
  const rect = overlay.getBoundingClientRect();
  const x = event.clientX - rect.left;
  const y = event.clientY - rect.top;
  const [xn, yn] = stage.toNorm(x, y);
  return { x, y, xn, yn };
}

function boxAt(p) {
  let best = -1;
  let area = Infinity;
  state.tracks.forEach((track, index) => {
    const box = boxOn(track);
    if (!box) return;
    const [x1, y1, x2, y2] = box.xyxyn;
    if (p.xn < x1 || p.xn > x2 || p.yn < y1 || p.yn > y2) return;
    const a = (x2 - x1) * (y2 - y1) * (index === state.selected ? 0.5 : 1);
    if (a < area) {
      area = a;
      best = index;
    }
  });
  return best;
}

function handleAt(p) {
  const track = state.tracks[state.selected];
  const box = track && boxOn(track);
  if (!box) return null;
  const [x1, y1, x2, y2] = box.xyxyn;
  const corners = { nw: [x1, y1], ne: [x2, y1], sw: [x1, y2], se: [x2, y2] };
  for (const [name, [xn, yn]] of Object.entries(corners)) {
    const [sx, sy] = stage.toScreen(xn, yn);
    if (Math.abs(sx - p.x) <= HANDLE && Math.abs(sy - p.y) <= HANDLE) return name;
  }
  return null;
}

overlay.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 || !state.ready) return;
  overlay.focus({ preventScroll: true });
  const p = pointer(event);
  if (state.drawMode) {
    state.drag = { type: "draw", start: [p.xn, p.yn], current: [p.xn, p.yn] };
  } else {
    const corner = handleAt(p);
    if (corner) {
      state.drag = { type: "resize", corner, before: snapshot(), box: boxOn(state.tracks[state.selected]), moved: false };
    } else {
      const index = boxAt(p);
      if (index < 0) return;
      if (index !== state.selected) select(index, { jump: false });
      const box = boxOn(state.tracks[index]);
      state.drag = { type: "move", start: [p.xn, p.yn], origin: [...box.xyxyn], box, before: snapshot(), moved: false };
    }
  }
  overlay.setPointerCapture(event.pointerId);
  event.preventDefault();
});

overlay.addEventListener("pointermove", (event) => {
  const p = pointer(event);
  const drag = state.drag;
  if (!drag) {
    if (!state.drawMode) overlay.style.cursor = handleAt(p) ? "nwse-resize" : boxAt(p) >= 0 ? "move" : "default";
    return;
  }
  if (drag.type === "draw") {
    drag.current = [p.xn, p.yn];
  } else if (drag.type === "move") {
    drag.box.xyxyn = clampBox(shift(drag.origin, p.xn - drag.start[0], p.yn - drag.start[1]));
    drag.moved = true;
  } else if (drag.type === "resize") {
    const [x1, y1, x2, y2] = drag.box.xyxyn;
    const xn = Math.min(1, Math.max(0, p.xn));
    const yn = Math.min(1, Math.max(0, p.yn));
    const next = {
      nw: [xn, yn, x2, y2], ne: [x1, yn, xn, y2], sw: [xn, y1, x2, yn], se: [x1, y1, xn, yn],
    }[drag.corner];
    // Crossing the opposite edge turns the corner into its mirror.
    if (next[0] > next[2]) drag.corner = { nw: "ne", ne: "nw", sw: "se", se: "sw" }[drag.corner];
    if (next[1] > next[3]) drag.corner = { nw: "sw", sw: "nw", ne: "se", se: "ne" }[drag.corner];
    drag.box.xyxyn = clampBox(next);
    drag.moved = true;
  }
  stage.render();
});

function endDrag() {
  const drag = state.drag;
  state.drag = null;
  if (!drag) return;
  if (drag.type === "draw") {
    const [a, b] = [drag.start, drag.current];
    if (Math.abs(b[0] - a[0]) < MIN_SIZE * 2 || Math.abs(b[1] - a[1]) < MIN_SIZE * 2) {
      hint("That box was too small; drag a larger one, or Enter to place one.");
      stage.render();
      return;
    }
    addBox([a[0], a[1], b[0], b[1]]);
  } else if (drag.moved) {
    state.undo.push(drag.before);
    changed();
  }
}
overlay.addEventListener("pointerup", endDrag);
overlay.addEventListener("pointercancel", endDrag);

// --- keyboard ---

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || !state.ready) return;
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (ctrl && (key === "s" || key === "S")) {
    event.preventDefault();
    save();
    return;
  }
  if (helpIsOpen() || isTyping(event)) return;
  if (ctrl && (key === "z" || key === "Z")) {
    event.preventDefault();
    undo();
    return;
  }
  if (ctrl) return;
  const onButton = event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement;
  if (event.altKey) {
    const moves = { ArrowLeft: [-NUDGE, 0], ArrowRight: [NUDGE, 0], ArrowUp: [0, -NUDGE], ArrowDown: [0, NUDGE] };
    if (moves[key]) {
      event.preventDefault();
      nudge(...moves[key], event.shiftKey);
    }
    return;
  }
  // Pickers take their keys first.
  if (state.picker === "smoke" && SMOKE_KEYS[key]) {
    event.preventDefault();
    setSmoke(SMOKE_KEYS[key]);
    return;
  }
  if (state.picker === "fp") {
    const type = Object.keys(FP_KEYS).find((t) => FP_KEYS[t] === key.toLowerCase());
    if (type && data.false_positive_types.includes(type)) {
      event.preventDefault();
      toggleFp(type);
      return;
    }
    if (key === "Enter" || key === "Escape") {
      event.preventDefault();
      closePicker();
      return;
    }
    return;
  }
  if (state.drawMode && key === "Enter") {
    event.preventDefault();
    placeDefaultBox();
    return;
  }
  const actions = {
    " ": () => setPlaying(!state.playing),
    ArrowLeft: () => goTo(state.frameIndex - 1),
    ArrowRight: () => goTo(state.frameIndex + 1),
    Home: () => goTo(0),
    End: () => goTo(state.frames.length - 1),
    j: () => select(state.selected + 1),
    k: () => select(state.selected < 0 ? -1 : state.selected - 1),
    s: markSmoke,
    f: markFalsePositive,
    n: () => toggleDrawMode(),
    o: () => {
      state.showRaw = !state.showRaw;
      refresh();
    },
    "<": () => setSpeed(-1),
    ">": () => setSpeed(1),
    m: toggleMissed,
    Delete: () => (event.shiftKey ? deleteTrack() : deleteBox()),
    Backspace: () => (event.shiftKey ? deleteTrack() : deleteBox()),
    Enter: save,
    "]": next,
    Escape: () => {
      if (state.picker) closePicker();
      else if (state.drawMode) toggleDrawMode(false);
      else if (state.selected >= 0) {
        state.selected = -1;
        hint("");
        refresh();
      }
    },
  };
  const action = actions[key] || actions[key.length === 1 ? key.toLowerCase() : key];
  if (!action) return;
  if (onButton && (key === " " || key === "Enter")) return; // the focused button's own action
  event.preventDefault();
  action();
});

// --- buttons ---

$("prev-frame").addEventListener("click", () => goTo(state.frameIndex - 1));
$("next-frame").addEventListener("click", () => goTo(state.frameIndex + 1));
$("play").addEventListener("click", () => setPlaying(!state.playing));
$("speed").addEventListener("change", (event) => {
  state.fps = Number(event.target.value);
  if (state.playing) setPlaying(true);
});

function setSpeed(step) {
  const select = $("speed");
  const values = [...select.options].map((o) => Number(o.value));
  const index = Math.max(0, Math.min(values.length - 1, values.indexOf(state.fps) + step));
  state.fps = values[index];
  select.value = String(state.fps);
  hint(`Playing at ${state.fps} frame${state.fps === 1 ? "" : "s"} per second.`);
  if (state.playing) setPlaying(true);
  else refresh();
}
$("scrubber").addEventListener("input", (event) => goTo(Number(event.target.value)));
$("draw-box").addEventListener("click", () => toggleDrawMode());
$("raw-toggle").addEventListener("change", (event) => {
  state.showRaw = event.target.checked;
  refresh();
});
$("missed-smoke").addEventListener("change", toggleMissed);
$("mark-smoke").addEventListener("click", markSmoke);
$("mark-fp").addEventListener("click", markFalsePositive);
$("delete-box").addEventListener("click", deleteBox);
$("delete-track").addEventListener("click", deleteTrack);
$("save").addEventListener("click", save);
$("next-link").addEventListener("click", (event) => {
  event.preventDefault();
  next();
});
window.addEventListener("beforeunload", (event) => {
  if (state.dirty) event.preventDefault();
});

// --- start ---

async function start() {
  let sequence;
  try {
    sequence = await api(data.api);
  } catch (error) {
    message("error", h("strong", {}, "This sequence could not be loaded. "), describe(error));
    return;
  }
  state.sequence = sequence;
  state.frames = sequence.frames;
  const review = sequence.review;
  state.tracks = review ? review.tracks.map(normalizeTrack) : [];
  state.version = review ? review.version : null;
  state.hasMissedSmoke = review ? review.has_missed_smoke : false;
  applyReviewMeta(review);
  $("scrubber").max = String(Math.max(0, state.frames.length - 1));
  state.images = state.frames.map(() => ({ image: null, error: false, requested: false }));
  preload();
  if (!state.frames.length) {
    stageMessage.textContent = "This sequence has no frames yet.";
    stageMessage.hidden = false;
  }
  state.ready = true;
  if (state.tracks.length) select(0);
  else {
    showFrame();
    hint(review ? "The draft found no track." : "No draft yet: draw boxes with n, or flag missed smoke with m.");
    refresh();
  }
}

start();
