// The review page's track model (lookout/web/static/review-model.js), without a browser:
// node --test tests/web/js/ (run by tests/web/test_review_model_js.py).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  DEFAULT_BOX,
  MIN_SIZE,
  ReviewModel,
  UNDO_LIMIT,
  clampBox,
  mergeConcurrent,
  normalizeTrack,
  resizeBox,
  shift,
  trackState,
} from "../../../lookout/web/static/review-model.js";

const FP_TYPES = ["antenna", "building", "high_cloud", "low_cloud", "other"];
const FRAMES = ["f0", "f1", "f2", "f3", "f4"].map((id) => ({ id, predictions: [] }));

function box(frame_id, xyxyn, confidence = null) {
  return { frame_id, xyxyn, confidence };
}

function track(boxes, fields = {}) {
  return { is_smoke: true, smoke_type: null, false_positive_types: [], confidence: null, boxes, ...fields };
}

/** A model of five frames with two tracks: T1 on frames 0-1, T2 on frames 1 and 3. */
function model({ missed = false } = {}) {
  const review = {
    version: 4,
    has_missed_smoke: missed,
    tracks: [
      track([box("f0", [0.1, 0.1, 0.3, 0.3], 0.9), box("f1", [0.12, 0.1, 0.32, 0.3], 0.8)], { confidence: 0.85 }),
      track([box("f1", [0.5, 0.5, 0.7, 0.8]), box("f3", [0.55, 0.5, 0.75, 0.8])]),
    ],
  };
  return new ReviewModel({ falsePositiveTypes: FP_TYPES }).load(FRAMES, review);
}

describe("box geometry", () => {
  test("clampBox orders the corners and keeps the box inside the frame", () => {
    assert.deepEqual(clampBox([0.8, 0.9, 0.2, 0.1]), [0.2, 0.1, 0.8, 0.9]);
    assert.deepEqual(clampBox([-0.5, -0.1, 1.5, 1.2]), [0, 0, 1, 1]);
  });

  test("clampBox gives a tiny box the minimum size, also against the far edge", () => {
    assert.deepEqual(clampBox([0.5, 0.5, 0.5, 0.5]), [0.5, 0.5, 0.5 + MIN_SIZE, 0.5 + MIN_SIZE]);
    assert.deepEqual(clampBox([1, 1, 1, 1]), [1 - MIN_SIZE, 1 - MIN_SIZE, 1, 1]);
  });

  test("clampBox rounds to six decimals", () => {
    assert.deepEqual(clampBox([0.1234564, 0.2, 0.3000004, 0.4]), [0.123456, 0.2, 0.3, 0.4]);
  });

  test("shift moves a box and stops it at the frame's edges, keeping its size", () => {
    assert.deepEqual(shift([0.2, 0.2, 0.4, 0.4], 0.25, 0.5), [0.45, 0.7, 0.65, 0.9]);
    assert.deepEqual(shift([0.2, 0.2, 0.4, 0.4], 0.9, -0.9), [0.8, 0, 1, 0.2]);
  });

  test("resizeBox moves the dragged corner only", () => {
    assert.deepEqual(resizeBox([0.2, 0.2, 0.6, 0.6], "se", 0.7, 0.8), { corner: "se", xyxyn: [0.2, 0.2, 0.7, 0.8] });
    assert.deepEqual(resizeBox([0.2, 0.2, 0.6, 0.6], "nw", 0.1, 0.3), { corner: "nw", xyxyn: [0.1, 0.3, 0.6, 0.6] });
    assert.deepEqual(resizeBox([0.2, 0.2, 0.6, 0.6], "ne", 1.4, -0.2), { corner: "ne", xyxyn: [0.2, 0, 1, 0.6] });
  });

  test("resizeBox turns the corner into its mirror when it crosses the opposite edge", () => {
    assert.deepEqual(resizeBox([0.2, 0.2, 0.6, 0.6], "se", 0.1, 0.5), { corner: "sw", xyxyn: [0.1, 0.2, 0.2, 0.5] });
    assert.deepEqual(resizeBox([0.2, 0.2, 0.6, 0.6], "se", 0.1, 0.1), { corner: "nw", xyxyn: [0.1, 0.1, 0.2, 0.2] });
    assert.equal(resizeBox([0.2, 0.2, 0.6, 0.6], "nw", 0.3, 0.7).corner, "sw");
  });
});

describe("tracks as the API sends them", () => {
  test("normalizeTrack fills defaults and copies the arrays", () => {
    const raw = { boxes: [{ frame_id: "f0", xyxyn: [0.1, 0.1, 0.2, 0.2] }], false_positive_types: ["sky"] };
    const normal = normalizeTrack(raw);
    assert.deepEqual(normal, {
      decision: "undecided", // no decision, smoke without a type: a draft's track
      is_smoke: true,
      smoke_type: null,
      false_positive_types: ["sky"],
      confidence: null,
      boxes: [{ frame_id: "f0", xyxyn: [0.1, 0.1, 0.2, 0.2], confidence: null }],
    });
    normal.boxes[0].xyxyn[0] = 0.5;
    normal.false_positive_types.push("rain");
    assert.deepEqual(raw.boxes[0].xyxyn, [0.1, 0.1, 0.2, 0.2]);
    assert.deepEqual(raw.false_positive_types, ["sky"]);
    assert.equal(normalizeTrack({ is_smoke: false }).is_smoke, false);
    assert.equal(normalizeTrack({ is_smoke: false }).decision, "false_positive");
    assert.equal(normalizeTrack({ smoke_type: "wildfire" }).decision, "smoke");
    assert.equal(normalizeTrack({ decision: "unsure", is_smoke: false }).is_smoke, true);
  });

  test("trackState describes the decision", () => {
    assert.deepEqual(trackState(track([], { smoke_type: "wildfire" })), { kind: "smoke", text: "Smoke · wildfire" });
    assert.deepEqual(trackState(track([], { is_smoke: false, false_positive_types: ["high_cloud", "sky"] })), {
      kind: "fp",
      text: "False positive · high cloud, sky",
    });
    assert.deepEqual(trackState(track([], { is_smoke: false })), { kind: "fp", text: "False positive · pick a type" });
    assert.deepEqual(trackState(track([], { confidence: 0.456 })), { kind: "todo", text: "To confirm (draft, mean confidence 0.46)" });
    assert.deepEqual(trackState(track([])), { kind: "todo", text: "To confirm (draft)" });
  });

  test("load reads the review's tracks, version and missed-smoke flag", () => {
    const m = model({ missed: true });
    assert.equal(m.tracks.length, 2);
    assert.equal(m.version, 4);
    assert.equal(m.hasMissedSmoke, true);
    assert.equal(m.selected, -1);
    assert.equal(m.dirty, false);
    const empty = new ReviewModel().load(FRAMES, null);
    assert.deepEqual([empty.tracks, empty.version, empty.hasMissedSmoke], [[], null, false]);
  });
});

describe("frames", () => {
  test("goTo clamps to the sequence, and does nothing without frames", () => {
    const m = model();
    assert.equal(m.goTo(3), true);
    assert.equal(m.frameIndex, 3);
    assert.equal(m.frame.id, "f3");
    m.goTo(99);
    assert.equal(m.frameIndex, 4);
    m.goTo(-2);
    assert.equal(m.frameIndex, 0);
    const none = new ReviewModel();
    assert.equal(none.goTo(2), false);
    assert.equal(none.frameIndex, 0);
    assert.equal(none.frame, null);
    assert.equal(none.frameId(), null);
  });

  test("boxOn finds a track's box on the current frame or a given one", () => {
    const m = model();
    const [t1, t2] = m.tracks;
    assert.deepEqual(m.boxOn(t1).xyxyn, [0.1, 0.1, 0.3, 0.3]);
    assert.equal(m.boxOn(t2), null);
    assert.equal(m.boxOn(t2, 3).frame_id, "f3");
    m.goTo(1);
    assert.equal(m.boxOn(t2).frame_id, "f1");
  });
});

describe("selection", () => {
  test("select wraps around the tracks both ways", () => {
    const m = model();
    m.select(0);
    assert.equal(m.selected, 0);
    m.select(2);
    assert.equal(m.selected, 0);
    m.select(-1);
    assert.equal(m.selected, 1);
    assert.equal(m.selectedTrack, m.tracks[1]);
    m.deselect();
    assert.equal(m.selected, -1);
    assert.equal(m.selectedTrack, null);
  });

  test("select jumps to the nearest frame where the track has a box", () => {
    const m = model();
    m.goTo(4);
    assert.equal(m.select(1), true);
    assert.equal(m.frameIndex, 3);
    m.goTo(0);
    assert.equal(m.select(1, { jump: false }), false);
    assert.equal(m.frameIndex, 0);
    assert.equal(m.select(0), false); // already on this frame
    assert.equal(m.frameIndex, 0);
  });

  test("select without tracks selects nothing", () => {
    const m = new ReviewModel().load(FRAMES, null);
    assert.equal(m.select(3), false);
    assert.equal(m.selected, -1);
  });

  test("boxAt picks the smallest box under the point, favouring the selected one", () => {
    const m = model();
    m.goTo(1);
    m.tracks[1].boxes[0].xyxyn = [0.05, 0.05, 0.5, 0.5]; // T2 around T1 on frame 1
    assert.equal(m.boxAt(0.2, 0.2), 0);
    assert.equal(m.boxAt(0.4, 0.4), 1);
    assert.equal(m.boxAt(0.9, 0.9), -1);
    m.tracks[1].boxes[0].xyxyn = [0.05, 0.05, 0.3, 0.35]; // a little larger than T1 (0.2 x 0.2)
    assert.equal(m.boxAt(0.2, 0.2), 0);
    m.select(1);
    assert.equal(m.boxAt(0.2, 0.2), 1);
  });
});

describe("decisions", () => {
  test("markSmoke and setSmoke confirm smoke and clear false-positive types", () => {
    const m = model();
    m.tracks[0].is_smoke = false;
    m.tracks[0].false_positive_types = ["antenna"];
    m.select(0);
    assert.equal(m.markSmoke(), true);
    assert.deepEqual([m.tracks[0].is_smoke, m.tracks[0].smoke_type, m.tracks[0].false_positive_types], [true, null, []]);
    assert.equal(m.setSmoke("industrial"), true);
    assert.equal(m.tracks[0].smoke_type, "industrial");
    assert.equal(m.dirty, true);
    assert.equal(m.undoStack.length, 2);
  });

  test("markFalsePositive clears the smoke type", () => {
    const m = model();
    m.select(1);
    m.setSmoke("wildfire");
    assert.equal(m.markFalsePositive(), true);
    assert.deepEqual([m.tracks[1].is_smoke, m.tracks[1].smoke_type], [false, null]);
  });

  test("toggleFp adds and removes types, kept in the known types' order", () => {
    const m = model();
    m.select(0);
    m.setSmoke("other");
    m.toggleFp("other");
    m.toggleFp("antenna");
    m.toggleFp("low_cloud");
    assert.deepEqual([m.tracks[0].is_smoke, m.tracks[0].smoke_type], [false, null]);
    assert.deepEqual(m.tracks[0].false_positive_types, ["antenna", "low_cloud", "other"]);
    m.toggleFp("antenna");
    assert.deepEqual(m.tracks[0].false_positive_types, ["low_cloud", "other"]);
  });

  test("decisions need a selected track and change nothing without one", () => {
    const m = model();
    const before = m.snapshot();
    for (const change of [() => m.markSmoke(), () => m.setSmoke("wildfire"), () => m.markFalsePositive(), () => m.toggleFp("other")]) {
      assert.equal(change(), false);
    }
    assert.equal(m.deleteTrack(), false);
    assert.equal(m.deleteBox(), null);
    assert.equal(m.nudge(0.1, 0, false), false);
    assert.equal(m.snapshot(), before);
    assert.deepEqual([m.dirty, m.undoStack.length], [false, 0]);
  });

  test("toggleMissed flips the missed-smoke flag", () => {
    const m = model();
    assert.equal(m.toggleMissed(), true);
    assert.equal(m.hasMissedSmoke, true);
    assert.equal(m.toggleMissed(), false);
    assert.equal(m.hasMissedSmoke, false);
    assert.equal(m.undoStack.length, 2);
  });

  test("undecided lists tracks without a decision and counts decisions without a type", () => {
    const m = model();
    assert.deepEqual(m.undecided(), { undecided: [0, 1], unconfirmed: 0, untyped: 0 });
    m.select(0);
    m.markSmoke();
    assert.deepEqual(m.undecided(), { undecided: [1], unconfirmed: 1, untyped: 0 });
    m.setSmoke("wildfire");
    m.select(1);
    m.markFalsePositive();
    assert.deepEqual(m.undecided(), { undecided: [], unconfirmed: 0, untyped: 1 });
    m.toggleFp("building");
    assert.deepEqual(m.undecided(), { undecided: [], unconfirmed: 0, untyped: 0 });
  });

  test("u marks a track unsure, again undecided; the sequence has its own flag", () => {
    const m = model();
    assert.equal(m.unsure, false);
    m.select(1);
    m.setSmoke("other");
    assert.equal(m.toggleUnsure(), "unsure");
    assert.deepEqual([m.tracks[1].decision, m.tracks[1].smoke_type], ["unsure", null]);
    assert.equal(m.unsure, true);
    assert.equal(m.payload().is_unsure, false); // the track says it; the sequence flag is off
    assert.equal(m.toggleUnsure(), "undecided");
    assert.equal(m.unsure, false);
    assert.equal(m.toggleSequenceUnsure(), true);
    assert.equal(m.payload().is_unsure, true);
    m.undo();
    assert.equal(m.isUnsure, false);
    m.undo();
    assert.equal(m.tracks[1].decision, "unsure");
  });

  test("a loaded unsure review keeps the sequence flag only when no track is unsure", () => {
    const flagged = new ReviewModel().load(FRAMES, { version: 1, is_unsure: true, tracks: [track([])] });
    assert.equal(flagged.isUnsure, true);
    const byTrack = new ReviewModel().load(FRAMES, {
      version: 1,
      is_unsure: true,
      tracks: [track([], { decision: "unsure" })],
    });
    assert.equal(byTrack.isUnsure, false);
    assert.equal(byTrack.unsure, true);
  });
});

describe("tracks and boxes", () => {
  test("deleteBox removes the box on this frame only", () => {
    const m = model();
    m.select(0);
    assert.equal(m.deleteBox(), "box");
    assert.deepEqual(m.tracks[0].boxes.map((b) => b.frame_id), ["f1"]);
    assert.equal(m.deleteBox(), null); // none left on frame 0
  });

  test("deleteBox removes the track with its last box", () => {
    const m = model();
    m.select(1);
    m.goTo(1);
    m.deleteBox();
    m.goTo(3);
    assert.equal(m.deleteBox(), "track");
    assert.equal(m.tracks.length, 1);
    assert.equal(m.selected, 0);
  });

  test("deleteTrack removes the selected track and selects the one now in its place", () => {
    const m = model();
    m.select(0);
    assert.equal(m.deleteTrack(), true);
    assert.equal(m.tracks.length, 1);
    assert.equal(m.tracks[0].boxes[0].frame_id, "f1");
    assert.equal(m.selected, 0);
    m.deleteTrack();
    assert.deepEqual([m.tracks.length, m.selected], [0, -1]);
  });

  test("addBox puts a box in the selected track when it has none on this frame, in frame order", () => {
    const m = model();
    m.select(1);
    m.goTo(2);
    assert.equal(m.addBox([0.6, 0.6, 0.5, 0.5]), "added");
    assert.equal(m.tracks.length, 2);
    assert.deepEqual(m.tracks[1].boxes.map((b) => b.frame_id), ["f1", "f2", "f3"]);
    assert.deepEqual(m.tracks[1].boxes[1], { frame_id: "f2", xyxyn: [0.5, 0.5, 0.6, 0.6], confidence: null });
  });

  test("addBox starts a new track, selected, when the selected track has a box here", () => {
    const m = model();
    m.select(0);
    assert.equal(m.addBox([0.7, 0.7, 0.9, 0.9]), "new");
    assert.equal(m.tracks.length, 3);
    assert.equal(m.selected, 2);
    assert.deepEqual(m.tracks[2], track([box("f0", [0.7, 0.7, 0.9, 0.9])], { decision: "undecided" }));
    m.deselect();
    assert.equal(m.addBox([0.1, 0.1, 0.2, 0.2]), "new");
    assert.equal(m.tracks.length, 4);
  });

  test("defaultBox propagates the selected track's nearest box, else the centre", () => {
    const m = model();
    assert.deepEqual(m.defaultBox(), DEFAULT_BOX);
    m.select(0);
    assert.deepEqual(m.defaultBox(), DEFAULT_BOX); // it has a box here already
    m.goTo(4);
    assert.deepEqual(m.defaultBox(), [0.12, 0.1, 0.32, 0.3]); // from frame 1
    m.select(1, { jump: false });
    m.goTo(2);
    assert.deepEqual(m.defaultBox(), [0.5, 0.5, 0.7, 0.8]); // frames 1 and 3 tie: the earlier
  });

  test("nudge moves the box within the frame, or with resize grows its far corner", () => {
    const m = model();
    m.select(0);
    assert.equal(m.nudge(0.05, 0, false), true);
    assert.deepEqual(m.tracks[0].boxes[0].xyxyn, [0.15, 0.1, 0.35, 0.3]);
    m.nudge(0, -0.5, false);
    assert.deepEqual(m.tracks[0].boxes[0].xyxyn, [0.15, 0, 0.35, 0.2]);
    m.nudge(0.1, 0.2, true);
    assert.deepEqual(m.tracks[0].boxes[0].xyxyn, [0.15, 0, 0.45, 0.4]);
    m.goTo(2);
    assert.equal(m.nudge(0.1, 0, false), false); // no box on this frame
  });
});

describe("undo", () => {
  test("undo brings back tracks, the missed-smoke flag and the selection", () => {
    const m = model();
    const original = structuredClone(m.tracks);
    m.select(1);
    m.deleteTrack();
    m.toggleMissed();
    assert.equal(m.undo(), true);
    assert.equal(m.hasMissedSmoke, false);
    assert.equal(m.undo(), true);
    assert.deepEqual(m.tracks, original);
    assert.equal(m.selected, 1);
    assert.equal(m.undo(), false);
  });

  test("undo keeps the selection within the tracks", () => {
    const m = model();
    m.undoStack.push(JSON.stringify({ tracks: [], hasMissedSmoke: true, selected: 1 }));
    m.undo();
    assert.deepEqual([m.tracks, m.hasMissedSmoke, m.selected], [[], true, -1]);
  });

  test("undo history keeps the last UNDO_LIMIT changes", () => {
    const m = model();
    for (let i = 0; i < UNDO_LIMIT + 5; i += 1) m.toggleMissed();
    assert.equal(m.undoStack.length, UNDO_LIMIT);
  });

  test("commit records a change made since a snapshot, such as a drag", () => {
    const m = model();
    m.select(0);
    const before = m.snapshot();
    m.tracks[0].boxes[0].xyxyn = [0.5, 0.5, 0.6, 0.6];
    m.commit(before);
    assert.equal(m.dirty, true);
    m.undo();
    assert.deepEqual(m.tracks[0].boxes[0].xyxyn, [0.1, 0.1, 0.3, 0.3]);
  });
});

describe("saving", () => {
  test("payload sends each track's decision alone, clamped boxes and the version read", () => {
    const m = model({ missed: true });
    m.select(0);
    m.setSmoke("wildfire");
    m.tracks[0].false_positive_types = ["sky"]; // not sent for smoke
    m.tracks[0].boxes[0].xyxyn = [0.3, 0.3, 0.1, 1.2];
    m.select(1);
    m.toggleFp("high_cloud");
    m.tracks[1].smoke_type = "other"; // not sent for a false positive
    assert.deepEqual(m.payload(), {
      tracks: [
        {
          decision: "smoke",
          is_smoke: true,
          smoke_type: "wildfire",
          false_positive_types: [],
          confidence: 0.85,
          boxes: [box("f0", [0.1, 0.3, 0.3, 1], 0.9), box("f1", [0.12, 0.1, 0.32, 0.3], 0.8)],
        },
        {
          decision: "false_positive",
          is_smoke: false,
          smoke_type: null,
          false_positive_types: ["high_cloud"],
          confidence: null,
          boxes: [box("f1", [0.5, 0.5, 0.7, 0.8]), box("f3", [0.55, 0.5, 0.75, 0.8])],
        },
      ],
      has_missed_smoke: true,
      is_unsure: false,
      processing_stage: "annotated",
      version: 4,
    });
  });

  test("saved takes the new version and leaves nothing to save or undo", () => {
    const m = model();
    m.toggleMissed();
    m.saved(5);
    assert.deepEqual([m.version, m.dirty, m.undoStack.length], [5, false, 0]);
    assert.equal(m.payload().version, 5);
  });
});

describe("concurrent saves", () => {
  const base = [
    track([box("f0", [0.1, 0.1, 0.2, 0.2])]),
    track([box("f1", [0.5, 0.5, 0.6, 0.6])]),
    track([box("f2", [0.3, 0.3, 0.4, 0.4])]),
  ];

  test("keeps mine where they changed nothing, theirs where they did, and both sides' additions", () => {
    const theirs = [
      base[0],
      { ...base[1], decision: "false_positive", is_smoke: false, false_positive_types: ["sky"] },
      base[2],
      track([box("f3", [0.7, 0.7, 0.8, 0.8])], { decision: "smoke", smoke_type: "other" }),
    ];
    const mine = [
      { ...base[0], decision: "smoke", smoke_type: "wildfire" },
      { ...base[1], decision: "smoke", smoke_type: "industrial" },
      base[2],
      track([box("f4", [0.2, 0.2, 0.3, 0.3])], { decision: "unsure" }),
    ];
    const { tracks, kept, taken } = mergeConcurrent(base, theirs, mine);
    assert.deepEqual(
      tracks.map((t) => [t.decision, t.smoke_type, t.false_positive_types]),
      [
        ["smoke", "wildfire", []], // mine: they left it
        ["false_positive", null, ["sky"]], // theirs: they changed it
        ["undecided", null, []], // nobody changed it
        ["smoke", "other", []], // their new track
        ["unsure", null, []], // my new track
      ],
    );
    assert.deepEqual([kept, taken], [2, 2]);
  });

  test("a box they moved counts as their change", () => {
    const theirs = [{ ...base[0], boxes: [box("f0", [0.11, 0.1, 0.21, 0.2])] }, base[1], base[2]];
    const mine = [{ ...base[0], decision: "smoke", smoke_type: "wildfire" }, base[1], base[2]];
    const { tracks } = mergeConcurrent(base, theirs, mine);
    assert.equal(tracks[0].decision, "undecided");
    assert.deepEqual(tracks[0].boxes[0].xyxyn, [0.11, 0.1, 0.21, 0.2]);
  });
});

describe("suggestions of a track's group", () => {
  const suggestion = { group_id: "g1", decision: "false_positive", smoke_type: null, false_positive_types: ["building", "antenna"], by: "a@b", at: "2024" };

  function grouped() {
    const model = new ReviewModel({ falsePositiveTypes: FP_TYPES });
    model.load(FRAMES, {
      tracks: [
        track([box("f0", [0.1, 0.1, 0.2, 0.2])], { decision: "undecided" }),
        track([box("f1", [0.5, 0.5, 0.6, 0.6])], { decision: "undecided", group_id: "g1", suggestion }),
      ],
      version: 1,
      has_missed_smoke: false,
    });
    return model;
  }

  test("the group marks are kept and sent back as they came", () => {
    const model = grouped();
    const sent = model.payload().tracks;
    assert.equal(sent[0].group_id, undefined);
    assert.equal(sent[1].group_id, "g1");
    assert.deepEqual(sent[1].suggestion, suggestion);
    assert.match(trackState(model.tracks[1]).text, /group says false positive \(building, antenna\)/);
  });

  test("g accepts the suggestion of the selected track, else of the first track with one", () => {
    const model = grouped();
    model.select(0, { jump: false });
    assert.equal(model.acceptSuggestion(), 1);
    assert.equal(model.selected, 1);
    const accepted = model.tracks[1];
    assert.equal(accepted.decision, "false_positive");
    assert.equal(accepted.is_smoke, false);
    assert.deepEqual(accepted.false_positive_types, ["antenna", "building"]);
    assert.ok(model.dirty);
    assert.equal(model.acceptSuggestion(), 1); // still selected, still the same decision
    model.undo();
    model.undo();
    assert.equal(model.tracks[1].decision, "undecided");
    model.tracks[1].suggestion = null;
    assert.equal(model.acceptSuggestion(), -1);
  });

  test("a decision from the group says so", () => {
    const fromGroup = normalizeTrack({ decision: "smoke", smoke_type: "industrial", decided_by_group: { group_id: "g1" } });
    assert.equal(trackState(fromGroup).text, "Smoke · industrial · from its group");
  });
});
