// Boxes over many frames, for the review's track model (review-model.js): copy the previous
// frame's box, interpolate across a gap, extend a track to every frame, adopt a model's
// predictions as track boxes, and the region a track covers (for the crop loop). Pure: no DOM
// (tests/web/js/review_boxes.test.mjs). Each change is one undoable step of the model.
import { clampBox, newTrack } from "./review-model.js";

/** Intersection over union of two [x1, y1, x2, y2] boxes (0 when they do not overlap). */
export function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Distance between two boxes' centres. */
export function centreDistance(a, b) {
  return Math.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2);
}

/**
 * The box around all of `boxes`, grown by `margin` times its size on each side (at least
 * `minSide` a side), inside the frame; null without boxes.
 */
export function regionAround(boxes, { margin = 0.25, minSide = 0.06 } = {}) {
  if (!boxes.length) return null;
  let [x1, y1, x2, y2] = [1, 1, 0, 0];
  for (const b of boxes) {
    x1 = Math.min(x1, b[0]);
    y1 = Math.min(y1, b[1]);
    x2 = Math.max(x2, b[2]);
    y2 = Math.max(y2, b[3]);
  }
  const grow = (lo, hi) => {
    const side = Math.min(1, Math.max(minSide, (hi - lo) * (1 + 2 * margin)));
    const centre = (lo + hi) / 2;
    const start = Math.min(1 - side, Math.max(0, centre - side / 2));
    return [start, start + side];
  };
  const [ax, bx] = grow(x1, x2);
  const [ay, by] = grow(y1, y2);
  return [ax, ay, bx, by].map((v) => Math.round(v * 1e6) / 1e6);
}

/** Linear interpolation between two boxes, t in [0, 1]. */
export function lerpBox(a, b, t) {
  return a.map((v, i) => v + (b[i] - v) * t);
}

/** The frame indexes where a track has a box, in frame order. */
function boxIndexes(model, track) {
  return track.boxes
    .map((b) => model.frameIndexOf(b.frame_id))
    .filter((i) => i >= 0)
    .sort((a, b) => a - b);
}

/** The track's box nearest to frame `index` (that frame's own box first; ties: the earlier), or null. */
export function nearestBox(model, track, index = model.frameIndex) {
  let best = null;
  let distance = Infinity;
  for (const box of track.boxes) {
    const at = model.frameIndexOf(box.frame_id);
    if (at < 0) continue;
    const d = Math.abs(at - index);
    if (d < distance || (d === distance && at < model.frameIndexOf(best.frame_id))) {
      best = box;
      distance = d;
    }
  }
  return best;
}

/** Put a box on frame `index` of a track, replacing the one there, keeping frame order. */
function setBox(model, track, index, xyxyn, confidence = null) {
  const frame_id = model.frameId(index);
  const box = { frame_id, xyxyn: clampBox(xyxyn), confidence };
  const at = track.boxes.findIndex((b) => b.frame_id === frame_id);
  if (at >= 0) track.boxes[at] = box;
  else {
    track.boxes.push(box);
    track.boxes.sort((a, b) => model.frameIndexOf(a.frame_id) - model.frameIndexOf(b.frame_id));
  }
  return box;
}

/** Apply a list of [index, xyxyn, confidence] to a track as one undoable step; returns how many. */
function apply(model, track, changes) {
  if (!changes.length) return 0;
  model.remember();
  model.dirty = true;
  for (const [index, xyxyn, confidence] of changes) setBox(model, track, index, xyxyn, confidence ?? null);
  return changes.length;
}

/**
 * Copy the selected track's box from the last earlier frame that has one onto this frame
 * (replacing this frame's box). Returns the frame index copied from, or -1 when there is none
 * (or no track is selected).
 */
export function copyPrevious(model) {
  const track = model.selectedTrack;
  if (!track) return -1;
  const earlier = boxIndexes(model, track).filter((i) => i < model.frameIndex);
  if (!earlier.length) return -1;
  const from = earlier[earlier.length - 1];
  apply(model, track, [[model.frameIndex, [...model.boxOn(track, from).xyxyn], null]]);
  return from;
}

/**
 * Fill the gap around this frame with boxes interpolated linearly between the selected track's
 * nearest boxes on each side: on a frame without a box, the gap it is in; on a frame with one,
 * the gaps just before and after it. Returns the number of boxes added (0: no gap to fill).
 */
export function interpolate(model) {
  const track = model.selectedTrack;
  if (!track) return 0;
  const indexes = boxIndexes(model, track);
  const here = model.frameIndex;
  const before = indexes.filter((i) => i < here).pop();
  const after = indexes.find((i) => i > here);
  const spans = [];
  if (indexes.includes(here)) {
    if (before !== undefined) spans.push([before, here]);
    if (after !== undefined) spans.push([here, after]);
  } else if (before !== undefined && after !== undefined) {
    spans.push([before, after]);
  }
  const changes = [];
  for (const [a, b] of spans) {
    const from = model.boxOn(track, a).xyxyn;
    const to = model.boxOn(track, b).xyxyn;
    for (let i = a + 1; i < b; i += 1) changes.push([i, lerpBox(from, to, (i - a) / (b - a)), null]);
  }
  return apply(model, track, changes);
}

/** Give the selected track a box on every frame without one: a copy of its nearest box. Returns how many. */
export function extend(model) {
  const track = model.selectedTrack;
  if (!track || !track.boxes.length) return 0;
  const changes = [];
  model.frames.forEach((_, index) => {
    if (model.boxOn(track, index)) return;
    const nearest = nearestBox(model, track, index);
    if (nearest) changes.push([index, [...nearest.xyxyn], null]);
  });
  return apply(model, track, changes);
}

/** A frame's predictions that have a box. */
export function framePredictions(model, index = model.frameIndex) {
  const frame = model.frames[index];
  return frame ? (frame.predictions || []).filter((p) => Array.isArray(p.bbox_xyxyn)) : [];
}

/** The prediction best overlapping `reference`, else (with `nearest`) the one closest to it; null when there is none. */
export function bestPrediction(predictions, reference, { nearest = true } = {}) {
  let best = null;
  let score = 0;
  for (const p of predictions) {
    const s = iou(p.bbox_xyxyn, reference);
    if (s > score) {
      best = p;
      score = s;
    }
  }
  if (best || !nearest || !predictions.length) return best;
  return [...predictions].sort((a, b) => centreDistance(a.bbox_xyxyn, reference) - centreDistance(b.bbox_xyxyn, reference))[0];
}

/** The prediction of highest confidence (a missing confidence counts as 0). */
function mostConfident(predictions) {
  return [...predictions].sort((a, b) => (b.confidence ?? 0) - (a.confidence ?? 0))[0] || null;
}

/**
 * Adopt a prediction of this frame as a track box. With a track selected: the prediction under
 * its box here (or its nearest box), else the nearest one, becomes its box on this frame
 * ({kind: "set"}). Without one: a new track, selected, from the most confident prediction
 * ({kind: "new"}). Returns {kind, prediction}, or null when this frame has no prediction.
 */
export function adoptPrediction(model) {
  const predictions = framePredictions(model);
  if (!predictions.length) return null;
  const track = model.selectedTrack;
  if (!track) {
    const prediction = mostConfident(predictions);
    model.remember();
    model.dirty = true;
    const box = { frame_id: model.frameId(), xyxyn: clampBox(prediction.bbox_xyxyn), confidence: prediction.confidence ?? null };
    model.tracks.push(newTrack([box], prediction.confidence ?? null));
    model.selected = model.tracks.length - 1;
    return { kind: "new", prediction };
  }
  const reference = nearestBox(model, track);
  const prediction = reference ? bestPrediction(predictions, reference.xyxyn) : mostConfident(predictions);
  apply(model, track, [[model.frameIndex, prediction.bbox_xyxyn, prediction.confidence]]);
  return { kind: "set", prediction };
}

/**
 * On every frame, adopt for the selected track the prediction best overlapping its box there
 * (or its nearest box, on a frame without one). Frames where no prediction overlaps keep what
 * they have. Returns the number of frames changed.
 */
export function adoptPredictions(model) {
  const track = model.selectedTrack;
  if (!track || !track.boxes.length) return 0;
  const changes = [];
  model.frames.forEach((_, index) => {
    const reference = nearestBox(model, track, index);
    const prediction = reference && bestPrediction(framePredictions(model, index), reference.xyxyn, { nearest: false });
    if (!prediction) return;
    const own = model.boxOn(track, index);
    const xyxyn = clampBox(prediction.bbox_xyxyn);
    if (own && own.xyxyn.every((v, i) => v === xyxyn[i]) && own.confidence === (prediction.confidence ?? null)) return;
    changes.push([index, xyxyn, prediction.confidence]);
  });
  return apply(model, track, changes);
}
