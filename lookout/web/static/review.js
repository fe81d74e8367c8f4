// Sequence review: frame player, draft tracks and raw predictions on each frame, labels per
// track, box editing, missed smoke, save with optimistic versioning, next in the queue. This
// module wires the track model (review-model.js), its drawing (review-draw.js) and its keys
// (review-keys.js) to the page: playback, frame loading, pointer editing, buttons and saving.
import { ApiError, api, describe, formatWhen, h, pageData } from "./api.js";
import { adoptPrediction, adoptPredictions, copyPrevious, extend, interpolate, nearestBox, regionAround } from "./review-boxes.js";
import { drawCrop, drawOverlay, hint, message, renderPanels, renderReviewMeta, stageMessage } from "./review-draw.js";
import { reviewKeys } from "./review-keys.js";
import { loadHistory, renderHistory, restoreVersion, sendBack } from "./review-history.js";
import { holdWhileOpen, openNext, skip } from "./review-queue.js";
import { MIN_SIZE, ReviewModel, clampBox, mergeConcurrent, resizeBox, shift } from "./review-model.js";
import { Stage, clampPan, loadImage, zoomAtPoint, zoomOnBox } from "./stage.js";

const data = pageData();
const HANDLE = 7;

const model = new ReviewModel({ falsePositiveTypes: data.false_positive_types });
/** The page's state around the model: playback, modes, the pointer drag, loading and saving. */
const ui = {
  images: [],
  stage: null,
  showRaw: false,
  playing: false,
  timer: 0,
  fps: 2,
  drawMode: false,
  picker: null, // "smoke" | "fp" | null
  crop: false, // the crop loop is open
  drag: null,
  leaveArmed: 0,
  saving: false,
  ready: false,
  stopHolding: async () => {}, // stops renewing the claim on this sequence (review-queue.js)
};

const $ = (id) => document.getElementById(id);
const overlay = $("overlay");
const stage = new Stage($("stage"), { onRender: draw, zoomable: false });
window.lookoutReview = { ready: false };

function draw(ctx, view) {
  const counts = drawOverlay(ctx, view, model, ui);
  if (!counts) return;
  overlay.dataset.drawnCount = String(counts.drawn + counts.raw);
  window.lookoutReview = {
    ...window.lookoutReview,
    drawnTracks: counts.drawn,
    drawnRaw: counts.raw,
    view: { scale: view.scale, ox: view.ox, oy: view.oy, w: view.w, h: view.h, dpr: view.dpr },
  };
  // Ready: the first frame drawn with its boxes, tracks listed, keys live (bench/ui.py).
  if (ui.ready && stage.image && !performance.getEntriesByName("lookout:ready").length) {
    performance.mark("lookout:ready");
    sinceSave();
  }
}

function refresh() {
  renderPanels(model, ui, { select, setSmoke, toggleFp, goTo });
  stage.render();
  window.lookoutReview = {
    ...window.lookoutReview,
    ready: ui.ready,
    frame: model.frameIndex,
    frames: model.frames.length,
    selected: model.selected,
    dirty: model.dirty,
    version: model.version,
    picker: ui.picker,
    drawMode: ui.drawMode,
    playing: ui.playing,
    fps: ui.fps,
    hasMissedSmoke: model.hasMissedSmoke,
    zoom: viewZoom(),
    crop: cropInfo(),
    isUnsure: model.isUnsure,
    unsure: model.unsure,
    undecided: model.undecided().undecided,
    tracks: model.tracks.map((t) => ({
      decision: t.decision,
      is_smoke: t.is_smoke,
      smoke_type: t.smoke_type,
      false_positive_types: [...t.false_positive_types],
      boxes: t.boxes.length,
      box: model.boxOn(t) ? [...model.boxOn(t).xyxyn] : null,
      group_id: t.group_id || null,
      suggestion: t.suggestion ? t.suggestion.decision : null,
      from_group: Boolean(t.decided_by_group),
    })),
  };
}

const SAVE_STARTED = "lookout:save-started";

/** The time from a save on the previous page to this one's first frame drawn (bench/ui.py). */
function sinceSave() {
  const started = Number(window.sessionStorage.getItem(SAVE_STARTED));
  window.sessionStorage.removeItem(SAVE_STARTED);
  if (started) window.lookoutReview.sinceSaveMs = performance.timeOrigin + performance.now() - started;
}

/** After a change to the review: unsaved, and shown. */
function changed() {
  model.dirty = true;
  ui.leaveArmed = 0;
  refresh();
}

// --- frames and playback ---

function goTo(index) {
  if (!model.goTo(index)) return;
  showFrame();
  refresh();
}

/** Load frames a few at a time, the current one and those just after it first. */
const PRELOAD_AT_ONCE = 4;
let loading = 0;
function preload() {
  const order = model.frames.map((_, i) => (model.frameIndex + i) % model.frames.length);
  for (const index of order) {
    if (loading >= PRELOAD_AT_ONCE) return;
    const entry = ui.images[index];
    if (!entry || entry.requested) continue;
    entry.requested = true;
    loading += 1;
    loadImage(model.frames[index].content_url)
      .then((image) => {
        entry.image = image;
      })
      .catch(() => {
        entry.error = true;
      })
      .finally(() => {
        loading -= 1;
        if (index === model.frameIndex) showFrame();
        preload();
      });
  }
}

function showFrame() {
  preload();
  const entry = ui.images[model.frameIndex];
  const frame = model.frame;
  if (entry && entry.image) {
    stage.setImage(entry.image, frame.width, frame.height);
    stageMessage(null);
  } else if (entry && entry.error) {
    stageMessage(`Frame ${model.frameIndex + 1} could not be loaded.`);
  } else {
    stageMessage("Loading frame…");
  }
}

function setPlaying(on) {
  ui.playing = on && model.frames.length > 1;
  clearInterval(ui.timer);
  if (ui.playing) {
    if (model.frameIndex >= model.frames.length - 1) goTo(0);
    ui.timer = setInterval(() => {
      if (model.frameIndex >= model.frames.length - 1) {
        setPlaying(false);
        return;
      }
      goTo(model.frameIndex + 1);
    }, 1000 / ui.fps);
  }
  refresh();
}

function setSpeed(step) {
  const select = $("speed");
  const values = [...select.options].map((o) => Number(o.value));
  const index = Math.max(0, Math.min(values.length - 1, values.indexOf(ui.fps) + step));
  ui.fps = values[index];
  select.value = String(ui.fps);
  hint(`Playing at ${ui.fps} frame${ui.fps === 1 ? "" : "s"} per second.`);
  restartCrop();
  if (ui.playing) setPlaying(true);
  else refresh();
}

function toggleRaw(on = !ui.showRaw) {
  ui.showRaw = on;
  refresh();
}

// --- tracks and decisions ---

function select(index, { jump = true } = {}) {
  if (!model.tracks.length) {
    model.select(index);
    refresh();
    return;
  }
  ui.picker = null;
  if (model.select(index, { jump })) showFrame();
  hint(`Track ${model.selected + 1} selected: s smoke, f false positive, Delete removes its box.`);
  refresh();
}

function deselect() {
  model.deselect();
  hint("");
  refresh();
}

/** The selected track, or null with a hint to select one. */
function selectedTrack() {
  const track = model.selectedTrack;
  if (!track) hint("Select a track first (j / k, or click a box).");
  return track;
}

function undo() {
  if (!model.undo()) {
    hint("Nothing to undo.");
    return;
  }
  changed();
  hint("Undone.");
}

function markSmoke() {
  if (!selectedTrack()) return;
  model.markSmoke();
  ui.picker = "smoke";
  changed();
}

function setSmoke(type) {
  if (!selectedTrack()) return;
  model.setSmoke(type);
  ui.picker = null;
  hint(`Track ${model.selected + 1}: smoke, ${type}.`);
  changed();
}

function markFalsePositive() {
  if (!selectedTrack()) return;
  model.markFalsePositive();
  ui.picker = "fp";
  changed();
}

function toggleFp(type) {
  if (!selectedTrack()) return;
  model.toggleFp(type);
  ui.picker = "fp";
  changed();
}

/** Take the decision the track's group suggests (g): the selected track, else the first one. */
function acceptSuggestion() {
  const index = model.acceptSuggestion();
  if (index < 0) {
    hint("No track here has a suggestion from its group.");
    return;
  }
  ui.picker = null;
  hint(`Track ${index + 1}: the group's decision accepted. Save to keep it.`);
  changed();
}

function closePicker() {
  ui.picker = null;
  hint("");
  refresh();
}

function deleteBox() {
  if (!selectedTrack()) return;
  const removed = model.deleteBox();
  if (!removed) {
    hint(`Track ${model.selected + 1} has no box on this frame.`);
    return;
  }
  hint(removed === "track" ? "Box removed; the track had no other box, so it was removed too." : "Box removed from this frame.");
  changed();
}

function deleteTrack() {
  if (!selectedTrack()) return;
  model.deleteTrack();
  hint("Track removed (Ctrl+Z brings it back).");
  changed();
}

function addBox(xyxyn) {
  if (model.addBox(xyxyn) === "added") hint(`Box added to track ${model.selected + 1} on frame ${model.frameIndex + 1}.`);
  else hint(`New track ${model.selected + 1}: confirm it with s or f.`);
  ui.drawMode = false;
  changed();
}

function placeDefaultBox() {
  addBox(model.defaultBox());
}

function toggleDrawMode(on = !ui.drawMode) {
  ui.drawMode = on;
  ui.picker = null;
  if (!on) hint("");
  refresh();
}

function toggleUnsure() {
  if (!selectedTrack()) return;
  const decision = model.toggleUnsure();
  ui.picker = null;
  hint(decision === "unsure"
    ? `Track ${model.selected + 1}: unsure. The sequence goes to the second-opinion list when saved.`
    : `Track ${model.selected + 1}: undecided again.`);
  changed();
}

function toggleSequenceUnsure() {
  const unsure = model.toggleSequenceUnsure();
  hint(unsure ? "The whole sequence is marked unsure: it waits for a second opinion." : "Sequence no longer marked unsure.");
  changed();
}

/** Point the reviewer at the tracks left undecided: select the first and show it. */
function showUndecided(indexes) {
  const names = indexes.map((i) => `track ${i + 1}`).join(", ");
  message(
    "warn",
    h("strong", {}, "Not saved: "),
    `${indexes.length} track${indexes.length === 1 ? " is" : "s are"} still undecided (${names}). `,
    "Decide each: s smoke, f false positive, u unsure.",
  );
  $("save-message").dataset.undecided = indexes.join(",");
  select(indexes[0]);
}

function toggleMissed() {
  const missed = model.toggleMissed();
  hint(missed ? "Flagged: the model missed smoke in this sequence." : "Missed-smoke flag removed.");
  changed();
}

function nudge(dx, dy, resize) {
  if (!selectedTrack()) return;
  if (model.nudge(dx, dy, resize)) changed();
}

// --- boxes over many frames (review-boxes.js) ---

function copyPreviousBox() {
  if (!selectedTrack()) return;
  const from = copyPrevious(model);
  if (from < 0) {
    hint(`Track ${model.selected + 1} has no box on an earlier frame to copy.`);
    return;
  }
  hint(`Box of frame ${from + 1} copied to frame ${model.frameIndex + 1}.`);
  changed();
}

function interpolateBoxes() {
  if (!selectedTrack()) return;
  const added = interpolate(model);
  if (!added) {
    hint(`Nothing to interpolate: track ${model.selected + 1} needs boxes on frames before and after this gap.`);
    return;
  }
  hint(`${added} box${added === 1 ? "" : "es"} interpolated for track ${model.selected + 1}.`);
  changed();
}

function extendTrack() {
  if (!selectedTrack()) return;
  const added = extend(model);
  if (!added) {
    hint(`Track ${model.selected + 1} already has a box on every frame.`);
    return;
  }
  hint(`Track ${model.selected + 1} extended to ${added} more frame${added === 1 ? "" : "s"} (copies of its nearest box).`);
  changed();
}

const describePrediction = (p) => `${p.model_name}${typeof p.confidence === "number" ? ` ${p.confidence.toFixed(2)}` : ""}`;

function adoptOnePrediction() {
  const adopted = adoptPrediction(model);
  if (!adopted) {
    hint("No prediction on this frame to adopt.");
    return;
  }
  hint(
    adopted.kind === "new"
      ? `New track ${model.selected + 1} from the ${describePrediction(adopted.prediction)} prediction: confirm it with s or f.`
      : `Track ${model.selected + 1} takes the ${describePrediction(adopted.prediction)} box on this frame.`,
  );
  changed();
}

function adoptAllPredictions() {
  if (!selectedTrack()) return;
  const count = adoptPredictions(model);
  if (!count) {
    hint(`No prediction overlaps track ${model.selected + 1} on any frame, or it has them already.`);
    return;
  }
  hint(`Track ${model.selected + 1} takes the overlapping prediction on ${count} frame${count === 1 ? "" : "s"}.`);
  changed();
}

// --- zoom, pan and the crop loop ---

function viewZoom() {
  const { zoom, panX, panY } = stage.viewState;
  return { zoom, panX, panY };
}

/** Show the frame with this view state ({zoom, panX, panY}). */
function setView(next) {
  Object.assign(stage.viewState, clampPan(stage.view, next));
  stage.viewState.changed();
  window.lookoutReview = { ...window.lookoutReview, zoom: viewZoom() };
}

function zoomToTrack() {
  const track = selectedTrack();
  if (!track) return;
  const box = nearestBox(model, track);
  if (!box) return;
  setView(zoomOnBox(stage.view, box.xyxyn));
  hint(`Zoomed on track ${model.selected + 1}: 0 or Shift+Z shows the whole frame; the wheel zooms, Shift+drag pans.`);
}

function resetZoom() {
  setView({ zoom: 1, panX: 0, panY: 0 });
}

const crop = { timer: 0, next: 0, frame: -1, region: null, drawn: 0 };

function cropInfo() {
  return { open: ui.crop, frame: crop.frame, region: crop.region, drawn: crop.drawn };
}

/** Open or close the crop loop: the selected track's region, enlarged, frame after frame. */
function toggleCrop(on = !ui.crop) {
  if (on && !selectedTrack()) return;
  ui.crop = on;
  $("crop-loop").hidden = !on;
  crop.next = model.frameIndex;
  crop.drawn = 0;
  restartCrop();
  if (on) hint(`Crop loop of track ${model.selected + 1}: c or Esc closes it.`);
  refresh();
}

function restartCrop() {
  clearInterval(crop.timer);
  crop.timer = 0;
  if (!ui.crop) return;
  crop.timer = setInterval(cropTick, 1000 / ui.fps);
  cropTick();
}

function cropTick() {
  const track = model.selectedTrack;
  if (!track || !model.frames.length) {
    toggleCrop(false);
    return;
  }
  const index = crop.next % model.frames.length;
  crop.next = index + 1;
  crop.region = regionAround(track.boxes.map((b) => b.xyxyn));
  if (!crop.region) return;
  const box = model.boxOn(track, index);
  const entry = ui.images[index];
  // Keep the loop away from the region it shows on the frame.
  const [sx] = stage.toScreen((crop.region[0] + crop.region[2]) / 2, 0);
  $("crop-loop").classList.toggle("left", sx > stage.cssWidth / 2);
  drawCrop($("crop-canvas"), {
    image: entry && entry.image,
    region: crop.region,
    box: box && box.xyxyn,
    trackIndex: model.selected,
    label: `T${model.selected + 1} · frame ${index + 1}/${model.frames.length}`,
  });
  crop.frame = index;
  crop.drawn += 1;
  window.lookoutReview = { ...window.lookoutReview, crop: cropInfo() };
}

// --- save and navigation ---

async function save() {
  if (ui.saving || !ui.ready) return;
  const { undecided, unconfirmed, untyped } = model.undecided();
  if (undecided.length) {
    showUndecided(undecided);
    return;
  }
  delete $("save-message").dataset.undecided;
  window.sessionStorage.setItem(SAVE_STARTED, String(performance.timeOrigin + performance.now()));
  ui.saving = true;
  $("save").disabled = true;
  message("", "Saving…");
  try {
    const review = await api(data.api + "/review", { method: "PUT", body: model.payload() });
    ui.stopHolding(); // the save released the claim: nothing left to hold
    model.saved(review.version);
    applyReviewMeta(review);
    const notes = [];
    if (unconfirmed) notes.push(`${unconfirmed} smoke track${unconfirmed === 1 ? " has" : "s have"} no type`);
    if (untyped) notes.push(`${untyped} false positive${untyped === 1 ? " has" : "s have"} no type`);
    message(
      notes.length || review.is_unsure ? "warn" : "ok",
      h("strong", {}, "Saved."),
      ` Stage: annotated, by ${review.reviewed_by || "you"} at ${formatWhen(review.reviewed_at)}.`,
      review.is_unsure ? " Marked unsure: it waits in the second-opinion list and is kept out of exports." : "",
      notes.length ? ` Note: ${notes.join("; ")}.` : "",
      autoNext() ? " Opening the next sequence…" : " Press ] for the next sequence.",
    );
    if (autoNext()) await openNext(data.queue_project, data.queue_url);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      conflict(error);
    } else if (error instanceof ApiError && error.status === 422 && /^tracks\[(\d+)\]/.test(error.field || "")) {
      showUndecided([Number(/^tracks\[(\d+)\]/.exec(error.field)[1])]);
    } else {
      message("error", h("strong", {}, "Not saved. "), describe(error));
    }
  } finally {
    ui.saving = false;
    $("save").disabled = false;
    refresh();
  }
}

/** Someone saved meanwhile: say who and when, offer their version or a merge keeping ours. */
function conflict(error) {
  message(
    "error",
    h("strong", {}, "Not saved: someone else saved this sequence while you were reviewing it."),
    " Nothing was overwritten.",
    h("span", { class: "conflict-detail" }, `Lookout said: ${error.message}`),
    h("button", { type: "button", class: "button small", onclick: () => window.location.reload() }, "Reload their version"),
    h("button", { type: "button", class: "button small ghost", id: "keep-mine", onclick: keepMine }, "Keep my decisions where they changed nothing"),
  );
  $("save-message").dataset.conflict = "true";
}

/** Their review, with my tracks wherever they left the track as we both started from it. */
async function keepMine() {
  try {
    const base = await api(`${data.api}/review/versions/${model.version}`);
    const theirs = await api(`${data.api}/review`);
    const { tracks, kept, taken } = mergeConcurrent(base.tracks, theirs.tracks, model.tracks);
    model.remember();
    model.tracks = tracks;
    model.version = theirs.version;
    model.selected = Math.min(model.selected, tracks.length - 1);
    applyReviewMeta(theirs);
    message(
      "warn",
      h("strong", {}, "Merged, not saved yet. "),
      `Your decisions kept on ${kept} track${kept === 1 ? "" : "s"}; ${taken} track${taken === 1 ? "" : "s"} as they saved ${taken === 1 ? "it" : "them"}. Check, then save.`,
    );
    delete $("save-message").dataset.conflict;
    $("save-message").dataset.merged = `${kept},${taken}`;
    changed();
  } catch (error) {
    message("error", h("strong", {}, "Could not merge. "), describe(error));
  }
}

function applyReviewMeta(review) {
  ui.stage = review ? review.processing_stage : null;
  renderReviewMeta(review);
  $("send-back").hidden = !review || review.processing_stage === "ready_to_annotate";
  if ($("history-panel").open) showHistory();
}

// --- history ---

async function showHistory() {
  if (model.version === null) {
    $("history-list").replaceChildren(h("li", { class: "muted small" }, "No review yet."));
    return;
  }
  try {
    renderHistory($("history-list"), await loadHistory(data.api), model.version, restore);
  } catch (error) {
    $("history-list").replaceChildren(h("li", { class: "error small" }, describe(error)));
  }
}

function toggleHistory() {
  const panel = $("history-panel");
  panel.open = !panel.open;
  if (panel.open) {
    showHistory();
    panel.scrollIntoView({ block: "nearest" });
  }
}

async function restore(version) {
  if (model.dirty && !window.confirm("Restoring replaces your unsaved changes. Restore anyway?")) return;
  try {
    await restoreVersion(data.api, version, model.version);
    model.dirty = false;
    window.location.reload();
  } catch (error) {
    message("error", h("strong", {}, "Not restored. "), describe(error));
  }
}

async function submitSendBack(event) {
  event.preventDefault();
  const reason = $("send-back-reason").value.trim();
  if (!reason) return;
  try {
    const review = await sendBack(data.api, reason);
    model.version = review.version;
    $("send-back-reason").value = "";
    applyReviewMeta(review);
    message("ok", h("strong", {}, "Sent back to the queue. "), `Reason: ${reason}`);
    refresh();
  } catch (error) {
    message("error", h("strong", {}, "Not sent back. "), describe(error));
  }
}

/** After a save in the queue, open the next claimed sequence (unless the reviewer said not to). */
function autoNext() {
  if (!data.queue_mode) return false;
  const stored = window.localStorage.getItem(AUTO_NEXT_KEY);
  return stored === null ? Boolean(data.auto_next) : stored === "true";
}

const AUTO_NEXT_KEY = "lookout.review.autoNext";

/**
 * The next sequence of the queue (claimed for this reviewer). One still waiting for a review is
 * set aside first (skipped: out of this reviewer's queue, listed on the queue page).
 */
async function next() {
  if (model.dirty && Date.now() - ui.leaveArmed > 4000) {
    ui.leaveArmed = Date.now();
    message("warn", h("strong", {}, "Unsaved changes. "), "Save with Enter, or press ] again to leave without saving.");
    return;
  }
  model.dirty = false;
  try {
    await ui.stopHolding();
    if (ui.stage === "ready_to_annotate") {
      await skip(data.sequence_id);
      hint("Skipped: it waits in your skipped list on the queue page.");
    }
    await openNext(data.queue_project, data.queue_url);
  } catch (error) {
    message("error", h("strong", {}, "Could not open the next sequence. "), describe(error));
  }
}

// --- pointer editing ---

function pointer(event) {
  const rect = overlay.getBoundingClientRect();
  const x = event.clientX - rect.left;
  const y = event.clientY - rect.top;
  const [xn, yn] = stage.toNorm(x, y);
  return { x, y, xn, yn };
}

/** The corner handle of the selected box under the pointer, if any. */
function handleAt(p) {
  const track = model.selectedTrack;
  const box = track && model.boxOn(track);
  if (!box) return null;
  const [x1, y1, x2, y2] = box.xyxyn;
  const corners = { nw: [x1, y1], ne: [x2, y1], sw: [x1, y2], se: [x2, y2] };
  for (const [name, [xn, yn]] of Object.entries(corners)) {
    const [sx, sy] = stage.toScreen(xn, yn);
    if (Math.abs(sx - p.x) <= HANDLE && Math.abs(sy - p.y) <= HANDLE) return name;
  }
  return null;
}

/** Pan by dragging: with Shift or the middle button anywhere, or on the frame outside boxes once zoomed. */
function startPan(event) {
  const { panX, panY } = stage.viewState;
  ui.drag = { type: "pan", x: event.clientX, y: event.clientY, panX, panY };
  overlay.style.cursor = "grabbing";
}

overlay.addEventListener("pointerdown", (event) => {
  const panning = event.button === 1 || (event.button === 0 && event.shiftKey);
  if ((event.button !== 0 && !panning) || !ui.ready) return;
  overlay.focus({ preventScroll: true });
  const p = pointer(event);
  if (panning) {
    startPan(event);
  } else if (ui.drawMode) {
    ui.drag = { type: "draw", start: [p.xn, p.yn], current: [p.xn, p.yn] };
  } else {
    const corner = handleAt(p);
    if (corner) {
      ui.drag = { type: "resize", corner, before: model.snapshot(), box: model.boxOn(model.selectedTrack), moved: false };
    } else {
      const index = model.boxAt(p.xn, p.yn);
      if (index < 0 && stage.viewState.zoom > 1) startPan(event);
      else if (index < 0) return;
      else {
        if (index !== model.selected) select(index, { jump: false });
        const box = model.boxOn(model.tracks[index]);
        ui.drag = { type: "move", start: [p.xn, p.yn], origin: [...box.xyxyn], box, before: model.snapshot(), moved: false };
      }
    }
  }
  overlay.setPointerCapture(event.pointerId);
  event.preventDefault();
});

overlay.addEventListener("pointermove", (event) => {
  const p = pointer(event);
  const drag = ui.drag;
  if (!drag) {
    if (!ui.drawMode) {
      const over = handleAt(p) ? "nwse-resize" : model.boxAt(p.xn, p.yn) >= 0 ? "move" : null;
      overlay.style.cursor = over || (stage.viewState.zoom > 1 ? "grab" : "default");
    }
    return;
  }
  if (drag.type === "pan") {
    const { zoom } = stage.viewState;
    setView({ zoom, panX: drag.panX + event.clientX - drag.x, panY: drag.panY + event.clientY - drag.y });
    return;
  }
  if (drag.type === "draw") {
    drag.current = [p.xn, p.yn];
  } else if (drag.type === "move") {
    drag.box.xyxyn = clampBox(shift(drag.origin, p.xn - drag.start[0], p.yn - drag.start[1]));
    drag.moved = true;
  } else if (drag.type === "resize") {
    const resized = resizeBox(drag.box.xyxyn, drag.corner, p.xn, p.yn);
    drag.corner = resized.corner;
    drag.box.xyxyn = resized.xyxyn;
    drag.moved = true;
  }
  stage.render();
});

function endDrag() {
  const drag = ui.drag;
  ui.drag = null;
  if (!drag) return;
  if (drag.type === "pan") {
    overlay.style.cursor = ui.drawMode ? "crosshair" : "grab";
    return;
  }
  if (drag.type === "draw") {
    const [a, b] = [drag.start, drag.current];
    if (Math.abs(b[0] - a[0]) < MIN_SIZE * 2 || Math.abs(b[1] - a[1]) < MIN_SIZE * 2) {
      hint("That box was too small; drag a larger one, or Enter to place one.");
      stage.render();
      return;
    }
    addBox([a[0], a[1], b[0], b[1]]);
  } else if (drag.moved) {
    model.commit(drag.before);
    changed();
  }
}
overlay.addEventListener("pointerup", endDrag);
overlay.addEventListener("pointercancel", endDrag);

// The wheel zooms at the pointer.
overlay.addEventListener(
  "wheel",
  (event) => {
    if (!ui.ready) return;
    event.preventDefault();
    const p = pointer(event);
    const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
    setView(zoomAtPoint(stage.view, stage.viewState, p.x, p.y, factor));
  },
  { passive: false },
);

// --- keyboard and buttons ---

document.addEventListener(
  "keydown",
  reviewKeys(model, ui, {
    save, undo, nudge, setSmoke, toggleFp, closePicker, placeDefaultBox, setPlaying, goTo, select, markSmoke,
    markFalsePositive, toggleDrawMode, toggleRaw: () => toggleRaw(), setSpeed, toggleMissed, toggleUnsure,
    toggleSequenceUnsure, toggleHistory, deleteBox, deleteTrack,
    next, deselect, zoomToTrack, resetZoom, toggleCrop, copyPrevious: copyPreviousBox, interpolate: interpolateBoxes,
    extend: extendTrack, adoptPrediction: adoptOnePrediction, adoptPredictions: adoptAllPredictions,
    acceptSuggestion,
  }),
);

$("prev-frame").addEventListener("click", () => goTo(model.frameIndex - 1));
$("next-frame").addEventListener("click", () => goTo(model.frameIndex + 1));
$("play").addEventListener("click", () => setPlaying(!ui.playing));
$("speed").addEventListener("change", (event) => {
  ui.fps = Number(event.target.value);
  restartCrop();
  if (ui.playing) setPlaying(true);
});
$("scrubber").addEventListener("input", (event) => goTo(Number(event.target.value)));
$("draw-box").addEventListener("click", () => toggleDrawMode());
$("raw-toggle").addEventListener("change", (event) => toggleRaw(event.target.checked));
$("missed-smoke").addEventListener("change", toggleMissed);
$("sequence-unsure").addEventListener("change", toggleSequenceUnsure);
$("mark-unsure").addEventListener("click", toggleUnsure);
$("fp-done").addEventListener("click", closePicker);
$("skip").addEventListener("click", next);
$("history-panel").addEventListener("toggle", () => $("history-panel").open && showHistory());
$("send-back").addEventListener("submit", submitSendBack);
if (data.queue_mode) {
  const toggle = $("auto-next");
  toggle.checked = autoNext();
  toggle.addEventListener("change", () => window.localStorage.setItem(AUTO_NEXT_KEY, String(toggle.checked)));
}
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
  if (model.dirty) event.preventDefault();
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
  const review = sequence.review;
  model.load(sequence.frames, review);
  applyReviewMeta(review);
  if (review && review.processing_stage === "ready_to_annotate") {
    ui.stopHolding = holdWhileOpen(data.sequence_id, data.claim_seconds, (detail) => {
      message("warn", h("strong", {}, "Another reviewer has this sequence open. "), `Lookout said: ${detail}. `, "Press ] for another one.");
      $("save-message").dataset.heldByOther = "true";
    });
  }
  if (review && review.returned_reason && review.processing_stage === "ready_to_annotate") {
    message("warn", h("strong", {}, "Sent back for another look: "), review.returned_reason);
  }
  $("scrubber").max = String(Math.max(0, model.frames.length - 1));
  ui.images = model.frames.map(() => ({ image: null, error: false, requested: false }));
  preload();
  if (!model.frames.length) stageMessage("This sequence has no frames yet.");
  ui.ready = true;
  if (model.tracks.length) select(0);
  else {
    showFrame();
    hint(review ? "The draft found no track." : "No draft yet: draw boxes with n, or flag missed smoke with m.");
    refresh();
  }
}

start();
