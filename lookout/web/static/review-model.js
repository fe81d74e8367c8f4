// The review's track model: frames, the current frame, tracks with a box per frame, the
// reviewer's decisions (smoke and its type, false positive and its types, missed smoke), the
// selection and undo. Pure state: no DOM, no canvas, no fetch (tests/web/js/review_model.test.mjs).

export const MIN_SIZE = 0.004;
export const UNDO_LIMIT = 200;
export const DEFAULT_BOX = [0.4, 0.4, 0.6, 0.6];

/** A box in normalized [x1, y1, x2, y2], ordered, inside the frame, at least MIN_SIZE a side. */
export function clampBox([x1, y1, x2, y2]) {
  const c = (v) => Math.min(1, Math.max(0, v));
  let a = [c(Math.min(x1, x2)), c(Math.min(y1, y2)), c(Math.max(x1, x2)), c(Math.max(y1, y2))];
  if (a[2] - a[0] < MIN_SIZE) a[2] = Math.min(1, a[0] + MIN_SIZE);
  if (a[3] - a[1] < MIN_SIZE) a[3] = Math.min(1, a[1] + MIN_SIZE);
  if (a[2] - a[0] < MIN_SIZE) a[0] = a[2] - MIN_SIZE;
  if (a[3] - a[1] < MIN_SIZE) a[1] = a[3] - MIN_SIZE;
  a = a.map((v) => Math.round(v * 1e6) / 1e6);
  return a;
}

/** The box moved by (dx, dy), stopped at the frame's edges. */
export function shift([x1, y1, x2, y2], dx, dy) {
  const mx = Math.max(-x1, Math.min(1 - x2, dx));
  const my = Math.max(-y1, Math.min(1 - y2, dy));
  return [x1 + mx, y1 + my, x2 + mx, y2 + my];
}

/**
 * The box with one corner ("nw", "ne", "sw", "se") dragged to (xn, yn). Crossing the opposite
 * edge turns the corner into its mirror, so the returned corner is the one now being dragged.
 */
export function resizeBox([x1, y1, x2, y2], corner, xn, yn) {
  const x = Math.min(1, Math.max(0, xn));
  const y = Math.min(1, Math.max(0, yn));
  const next = { nw: [x, y, x2, y2], ne: [x1, y, x, y2], sw: [x, y1, x2, y], se: [x1, y1, x, y] }[corner];
  let turned = corner;
  if (next[0] > next[2]) turned = { nw: "ne", ne: "nw", sw: "se", se: "sw" }[turned];
  if (next[1] > next[3]) turned = { nw: "sw", sw: "nw", ne: "se", se: "ne" }[turned];
  return { corner: turned, xyxyn: clampBox(next) };
}

/** A track's decision as the API sends it; older reviews without one are read by their fields. */
export function decisionOf(raw) {
  if (raw.decision) return raw.decision;
  if (raw.is_smoke === false) return "false_positive";
  return raw.smoke_type ? "smoke" : "undecided";
}

/** A new track a person starts: undecided until they say what it is. */
export function newTrack(boxes, confidence = null) {
  return { decision: "undecided", is_smoke: true, smoke_type: null, false_positive_types: [], confidence, boxes };
}

// What Lookout marks on a track of a group of recurring objects: its group, a decision that
// came from the group, the group's decision suggested. Sent back as they came (the server
// keeps its own record of them).
export const GROUP_FIELDS = ["group_id", "decided_by_group", "suggestion"];

/** A track as the API sends it, copied into the model's shape. */
export function normalizeTrack(raw) {
  const decision = decisionOf(raw);
  const track = {
    decision,
    is_smoke: decision !== "false_positive",
    smoke_type: raw.smoke_type || null,
    false_positive_types: [...(raw.false_positive_types || [])],
    confidence: raw.confidence ?? null,
    boxes: (raw.boxes || []).map((b) => ({ frame_id: b.frame_id, xyxyn: [...b.xyxyn], confidence: b.confidence ?? null })),
  };
  for (const name of GROUP_FIELDS) if (raw[name]) track[name] = structuredClone(raw[name]);
  return track;
}

/** A group's decision in words: "false positive (antenna, building)", "smoke (wildfire)". */
export function describeDecision({ decision, smoke_type: smokeType, false_positive_types: types = [] }) {
  const detail = decision === "smoke" ? smokeType : types.join(", ");
  const words = (decision || "undecided").replace(/_/g, " ");
  return detail ? `${words} (${detail.replace(/_/g, " ")})` : words;
}

/** The reviewer's decision on a track: kind "smoke", "fp", "unsure" or "todo", and its description. */
export function trackState(track) {
  const decision = decisionOf(track);
  const fromGroup = track.decided_by_group ? " · from its group" : "";
  if (decision === "smoke") return { kind: "smoke", text: `Smoke · ${track.smoke_type || "pick a type"}${fromGroup}` };
  if (decision === "false_positive") {
    const types = track.false_positive_types.map((t) => t.replace(/_/g, " "));
    return { kind: "fp", text: (types.length ? `False positive · ${types.join(", ")}` : "False positive · pick a type") + fromGroup };
  }
  if (decision === "unsure") return { kind: "unsure", text: "Unsure · for a second opinion" };
  if (track.suggestion) return { kind: "todo", text: `Its group says ${describeDecision(track.suggestion)} · g to accept` };
  const score = typeof track.confidence === "number" ? `, mean confidence ${track.confidence.toFixed(2)}` : "";
  return { kind: "todo", text: `To confirm (draft${score})` };
}

/** A track's content for comparison: its decision, types and boxes. */
function trackKey(track) {
  if (!track) return null;
  const t = normalizeTrack(track);
  const boxes = t.boxes.map((b) => `${b.frame_id}:${b.xyxyn.map((v) => v.toFixed(5)).join(",")}`).sort();
  return JSON.stringify([t.decision, t.smoke_type, [...t.false_positive_types].sort(), boxes]);
}

/**
 * Two people saved from the same `base` tracks: `theirs` reached the server first. Keep their
 * track wherever they changed it, mine wherever they left it as it was; tracks either of us
 * added are kept. Tracks are matched by position (neither side reorders them).
 */
export function mergeConcurrent(base, theirs, mine) {
  const tracks = [];
  let kept = 0;
  let taken = 0;
  theirs.forEach((track, i) => {
    const untouched = i < base.length && trackKey(base[i]) === trackKey(track);
    if (untouched && mine[i]) {
      tracks.push(normalizeTrack(mine[i]));
      if (trackKey(mine[i]) !== trackKey(track)) kept += 1;
    } else {
      tracks.push(normalizeTrack(track));
      if (i >= base.length || !mine[i] || trackKey(mine[i]) !== trackKey(track)) taken += 1;
    }
  });
  // Tracks I added after the base come after theirs (they may have added some too).
  for (const track of mine.slice(base.length)) {
    tracks.push(normalizeTrack(track));
    kept += 1;
  }
  return { tracks, kept, taken };
}

export class ReviewModel {
  /** @param {{falsePositiveTypes?: string[]}} options the known types, in the order a track lists them */
  constructor({ falsePositiveTypes = [] } = {}) {
    this.falsePositiveTypes = falsePositiveTypes;
    this.frames = [];
    this.frameIndex = 0;
    this.tracks = [];
    this.version = null;
    this.hasMissedSmoke = false;
    this.isUnsure = false; // the whole sequence, beside any unsure track
    this.selected = -1;
    this.dirty = false;
    this.undoStack = [];
  }

  /** The sequence's frames as the API sends them (each with an id), and its saved or draft review, if any. */
  load(frames, review) {
    this.frames = frames;
    this.tracks = review ? review.tracks.map(normalizeTrack) : [];
    this.version = review ? review.version : null;
    this.hasMissedSmoke = review ? review.has_missed_smoke : false;
    // The server's flag also counts unsure tracks; the sequence's own flag is what is left.
    this.isUnsure = Boolean(review && review.is_unsure) && !this.tracks.some((t) => t.decision === "unsure");
    return this;
  }

  // --- frames ---

  frameId(index = this.frameIndex) {
    return this.frames[index] ? this.frames[index].id : null;
  }

  frameIndexOf(id) {
    return this.frames.findIndex((f) => f.id === id);
  }

  /** The current frame, or null when the sequence has none. */
  get frame() {
    return this.frames[this.frameIndex] || null;
  }

  /** Go to a frame (clamped to the sequence); false when there are no frames. */
  goTo(index) {
    if (!this.frames.length) return false;
    this.frameIndex = Math.max(0, Math.min(this.frames.length - 1, index));
    return true;
  }

  /** The track's box on a frame (the current one by default), or null. */
  boxOn(track, index = this.frameIndex) {
    const id = this.frameId(index);
    return track.boxes.find((b) => b.frame_id === id) || null;
  }

  // --- selection ---

  get selectedTrack() {
    return this.tracks[this.selected] || null;
  }

  /**
   * Select a track by index, wrapping around; with jump, go to the nearest frame where it has a
   * box if it has none on this one. Returns true when it looked for another frame.
   */
  select(index, { jump = true } = {}) {
    if (!this.tracks.length) {
      this.selected = -1;
      return false;
    }
    this.selected = ((index % this.tracks.length) + this.tracks.length) % this.tracks.length;
    const track = this.tracks[this.selected];
    if (!(jump && !this.boxOn(track) && track.boxes.length)) return false;
    const indexes = track.boxes.map((b) => this.frameIndexOf(b.frame_id)).filter((i) => i >= 0);
    indexes.sort((a, b) => Math.abs(a - this.frameIndex) - Math.abs(b - this.frameIndex));
    if (indexes.length) this.frameIndex = indexes[0];
    return true;
  }

  deselect() {
    this.selected = -1;
  }

  /** The track under a point of the current frame (normalized); the smallest box wins, the selected one at half its area. */
  boxAt(xn, yn) {
    let best = -1;
    let area = Infinity;
    this.tracks.forEach((track, index) => {
      const box = this.boxOn(track);
      if (!box) return;
      const [x1, y1, x2, y2] = box.xyxyn;
      if (xn < x1 || xn > x2 || yn < y1 || yn > y2) return;
      const a = (x2 - x1) * (y2 - y1) * (index === this.selected ? 0.5 : 1);
      if (a < area) {
        area = a;
        best = index;
      }
    });
    return best;
  }

  // --- undo ---

  /** The state a change can be undone to. */
  snapshot() {
    return JSON.stringify({
      tracks: this.tracks,
      hasMissedSmoke: this.hasMissedSmoke,
      isUnsure: this.isUnsure,
      selected: this.selected,
    });
  }

  /** Record the state before a change, so undo can bring it back. */
  remember() {
    this.undoStack.push(this.snapshot());
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
  }

  /** Record a change made since `before` (a snapshot), e.g. by dragging a box. */
  commit(before) {
    this.undoStack.push(before);
    this.dirty = true;
  }

  /** Bring back the state before the last change; false when there is none. */
  undo() {
    const previous = this.undoStack.pop();
    if (!previous) return false;
    const restored = JSON.parse(previous);
    this.tracks = restored.tracks;
    this.hasMissedSmoke = restored.hasMissedSmoke;
    this.isUnsure = Boolean(restored.isUnsure);
    this.selected = Math.min(restored.selected, this.tracks.length - 1);
    this.dirty = true;
    return true;
  }

  /** A change about to be made to the selected track: remembered for undo. */
  edit() {
    const track = this.selectedTrack;
    if (track) {
      this.remember();
      this.dirty = true;
    }
    return track;
  }

  // --- decisions ---

  /** The selected track is smoke (its type still to pick). */
  markSmoke() {
    const track = this.edit();
    if (!track) return false;
    track.decision = "smoke";
    track.is_smoke = true;
    track.false_positive_types = [];
    return true;
  }

  setSmoke(type) {
    const track = this.edit();
    if (!track) return false;
    track.decision = "smoke";
    track.is_smoke = true;
    track.smoke_type = type;
    track.false_positive_types = [];
    return true;
  }

  /** The selected track is a false positive (its types still to pick). */
  markFalsePositive() {
    const track = this.edit();
    if (!track) return false;
    track.decision = "false_positive";
    track.is_smoke = false;
    track.smoke_type = null;
    return true;
  }

  /** Add or remove a false-positive type of the selected track (which becomes a false positive). */
  toggleFp(type) {
    const track = this.edit();
    if (!track) return false;
    track.decision = "false_positive";
    track.is_smoke = false;
    track.smoke_type = null;
    const types = new Set(track.false_positive_types);
    if (types.has(type)) types.delete(type);
    else types.add(type);
    track.false_positive_types = this.falsePositiveTypes.filter((t) => types.has(t));
    return true;
  }

  /**
   * Accept the decision its group suggests for the selected track (none selected: the first
   * track with a suggestion). Returns the track's index, or -1 when there is none to accept.
   */
  acceptSuggestion() {
    let index = this.selectedTrack && this.selectedTrack.suggestion ? this.selected : -1;
    if (index < 0) index = this.tracks.findIndex((t) => t.suggestion && t.decision === "undecided");
    if (index < 0) return -1;
    this.selected = index;
    const track = this.edit();
    const suggested = track.suggestion;
    track.decision = suggested.decision;
    track.is_smoke = suggested.decision !== "false_positive";
    track.smoke_type = suggested.decision === "smoke" ? suggested.smoke_type || null : null;
    const types = new Set(suggested.false_positive_types || []);
    track.false_positive_types = suggested.decision === "false_positive" ? this.falsePositiveTypes.filter((t) => types.has(t)) : [];
    return index;
  }

  /** The selected track is unsure (for a second opinion); again, undecided. Returns the decision. */
  toggleUnsure() {
    const track = this.edit();
    if (!track) return null;
    track.decision = track.decision === "unsure" ? "undecided" : "unsure";
    track.is_smoke = true;
    track.smoke_type = null;
    track.false_positive_types = [];
    return track.decision;
  }

  /** The whole sequence needs a second opinion (or no longer). */
  toggleSequenceUnsure() {
    this.remember();
    this.dirty = true;
    this.isUnsure = !this.isUnsure;
    return this.isUnsure;
  }

  toggleMissed() {
    this.remember();
    this.dirty = true;
    this.hasMissedSmoke = !this.hasMissedSmoke;
    return this.hasMissedSmoke;
  }

  // --- tracks and boxes ---

  /**
   * Remove the selected track's box on this frame, and the track if it has no other box.
   * Returns "box", "track", or null when there is no box to remove.
   */
  deleteBox() {
    const track = this.selectedTrack;
    const box = track && this.boxOn(track);
    if (!box) return null;
    this.edit();
    track.boxes = track.boxes.filter((b) => b !== box);
    if (track.boxes.length) return "box";
    this.tracks.splice(this.selected, 1);
    this.selected = Math.min(this.selected, this.tracks.length - 1);
    return "track";
  }

  deleteTrack() {
    if (!this.edit()) return false;
    this.tracks.splice(this.selected, 1);
    this.selected = Math.min(this.selected, this.tracks.length - 1);
    return true;
  }

  /**
   * A new box on this frame: into the selected track if it has none here ("added"), else into a
   * new track, which becomes the selected one ("new").
   */
  addBox(xyxyn) {
    this.remember();
    this.dirty = true;
    const box = { frame_id: this.frameId(), xyxyn: clampBox(xyxyn), confidence: null };
    const track = this.selectedTrack;
    if (track && !this.boxOn(track)) {
      track.boxes.push(box);
      track.boxes.sort((a, b) => this.frameIndexOf(a.frame_id) - this.frameIndexOf(b.frame_id));
      return "added";
    }
    this.tracks.push(newTrack([box]));
    this.selected = this.tracks.length - 1;
    return "new";
  }

  /** Where a box placed without drawing goes: the selected track's nearest box (propagated to this frame), else the centre. */
  defaultBox() {
    const track = this.selectedTrack;
    if (!(track && track.boxes.length && !this.boxOn(track))) return [...DEFAULT_BOX];
    const distance = (b) => Math.abs(this.frameIndexOf(b.frame_id) - this.frameIndex);
    const nearest = [...track.boxes].sort((a, b) => distance(a) - distance(b))[0];
    return [...nearest.xyxyn];
  }

  /** Move the selected track's box on this frame by (dx, dy), or with resize grow its far corner; false when there is no box. */
  nudge(dx, dy, resize) {
    const track = this.selectedTrack;
    const box = track && this.boxOn(track);
    if (!box) return false;
    this.edit();
    const [x1, y1, x2, y2] = box.xyxyn;
    box.xyxyn = resize ? clampBox([x1, y1, x2 + dx, y2 + dy]) : clampBox(shift([x1, y1, x2, y2], dx, dy));
    return true;
  }

  // --- saving ---

  /**
   * What is left to decide: `undecided` lists the indexes of tracks without a decision (the
   * sequence cannot be marked annotated with any), `unconfirmed` and `untyped` count smoke
   * without a type and false positives without one (allowed, but worth a note).
   */
  undecided() {
    return {
      undecided: this.tracks.flatMap((t, i) => (t.decision === "undecided" ? [i] : [])),
      unconfirmed: this.tracks.filter((t) => t.decision === "smoke" && !t.smoke_type).length,
      untyped: this.tracks.filter((t) => t.decision === "false_positive" && !t.false_positive_types.length).length,
    };
  }

  /** Is the sequence waiting for a second opinion (its own flag, or an unsure track)? */
  get unsure() {
    return this.isUnsure || this.tracks.some((t) => t.decision === "unsure");
  }

  /** The body of PUT .../review: the review as annotated, at the version it was read. */
  payload() {
    return {
      tracks: this.tracks.map((t) => ({
        decision: t.decision,
        is_smoke: t.decision !== "false_positive",
        smoke_type: t.decision === "smoke" ? t.smoke_type : null,
        false_positive_types: t.decision === "false_positive" ? t.false_positive_types : [],
        confidence: t.confidence,
        boxes: t.boxes.map((b) => ({ frame_id: b.frame_id, xyxyn: clampBox(b.xyxyn), confidence: b.confidence })),
        ...Object.fromEntries(GROUP_FIELDS.filter((name) => t[name]).map((name) => [name, t[name]])),
      })),
      has_missed_smoke: this.hasMissedSmoke,
      is_unsure: this.isUnsure,
      processing_stage: "annotated",
      version: this.version,
    };
  }

  /** The review was saved as `version`: nothing left to save or undo. */
  saved(version) {
    this.version = version;
    this.dirty = false;
    this.undoStack = [];
  }
}
