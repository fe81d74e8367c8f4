// Boxes over many frames (lookout/web/static/review-boxes.js) on the review's track model:
// node --test tests/web/js/ (run by tests/web/test_review_model_js.py).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  adoptPrediction,
  adoptPredictions,
  bestPrediction,
  copyPrevious,
  extend,
  interpolate,
  iou,
  lerpBox,
  nearestBox,
  regionAround,
} from "../../../lookout/web/static/review-boxes.js";
import { ReviewModel } from "../../../lookout/web/static/review-model.js";

const close = (actual, expected) =>
  assert.ok(
    actual.length === expected.length && actual.every((v, i) => Math.abs(v - expected[i]) < 1e-6),
    `${JSON.stringify(actual)} != ${JSON.stringify(expected)}`,
  );

function prediction(bbox_xyxyn, confidence, model_name = "platform") {
  return { model_name, confidence, bbox_xyxyn };
}

/** Six frames; T1 has boxes on frames 0 and 4, T2 on frame 2 only. Frame 1 has two predictions. */
function model() {
  const frames = ["f0", "f1", "f2", "f3", "f4", "f5"].map((id) => ({ id, predictions: [] }));
  frames[1].predictions = [prediction([0.12, 0.1, 0.32, 0.3], 0.6), prediction([0.6, 0.6, 0.7, 0.7], 0.9, "yolo")];
  frames[3].predictions = [prediction([0.2, 0.1, 0.42, 0.3], 0.7), { model_name: "x", confidence: 1, bbox_xyxyn: null }];
  frames[5].predictions = [prediction([0.8, 0.8, 0.9, 0.9], 0.5)];
  const review = {
    version: 1,
    has_missed_smoke: false,
    tracks: [
      { is_smoke: true, boxes: [
        { frame_id: "f0", xyxyn: [0.1, 0.1, 0.3, 0.3], confidence: 0.9 },
        { frame_id: "f4", xyxyn: [0.3, 0.2, 0.5, 0.4], confidence: 0.8 },
      ] },
      { is_smoke: true, boxes: [{ frame_id: "f2", xyxyn: [0.6, 0.6, 0.7, 0.7] }] },
    ],
  };
  return new ReviewModel().load(frames, review);
}

const frameIds = (track) => track.boxes.map((b) => b.frame_id);

describe("geometry", () => {
  test("iou of overlapping, nested and apart boxes", () => {
    assert.equal(iou([0, 0, 0.2, 0.2], [0, 0, 0.2, 0.2]), 1);
    assert.ok(Math.abs(iou([0, 0, 0.2, 0.2], [0.1, 0, 0.3, 0.2]) - 1 / 3) < 1e-9);
    assert.ok(Math.abs(iou([0, 0, 0.4, 0.4], [0.1, 0.1, 0.3, 0.3]) - 0.25) < 1e-9);
    assert.equal(iou([0, 0, 0.1, 0.1], [0.2, 0.2, 0.3, 0.3]), 0);
  });

  test("lerpBox goes from one box to the other", () => {
    close(lerpBox([0, 0, 0.2, 0.2], [0.4, 0.2, 0.6, 0.6], 0.25), [0.1, 0.05, 0.3, 0.3]);
  });

  test("regionAround grows the union of the boxes, keeps a minimum size and stays inside the frame", () => {
    close(regionAround([[0.4, 0.4, 0.5, 0.5], [0.5, 0.45, 0.6, 0.55]]), [0.35, 0.3625, 0.65, 0.5875]);
    close(regionAround([[0.5, 0.5, 0.51, 0.51]]), [0.475, 0.475, 0.535, 0.535]);
    close(regionAround([[0.9, 0, 1, 0.1]]), [0.85, 0, 1, 0.15]);
    assert.equal(regionAround([]), null);
  });

  test("nearestBox: this frame's box, else the nearest, the earlier on a tie", () => {
    const m = model();
    const t1 = m.tracks[0];
    assert.equal(nearestBox(m, t1, 0).frame_id, "f0");
    assert.equal(nearestBox(m, t1, 1).frame_id, "f0");
    assert.equal(nearestBox(m, t1, 2).frame_id, "f0");
    assert.equal(nearestBox(m, t1, 3).frame_id, "f4");
    assert.equal(nearestBox(m, { boxes: [] }, 3), null);
  });

  test("bestPrediction: the best overlap, else the nearest centre unless asked not to", () => {
    const ps = [prediction([0, 0, 0.1, 0.1], 0.9), prediction([0.5, 0.5, 0.7, 0.7], 0.2), prediction([0.55, 0.55, 0.9, 0.9], 0.5)];
    assert.equal(bestPrediction(ps, [0.5, 0.5, 0.7, 0.72]), ps[1]);
    assert.equal(bestPrediction(ps, [0.15, 0.15, 0.2, 0.2]), ps[0]);
    assert.equal(bestPrediction(ps, [0.15, 0.15, 0.2, 0.2], { nearest: false }), null);
    assert.equal(bestPrediction([], [0, 0, 1, 1]), null);
  });
});

describe("copy the previous box", () => {
  test("p copies the last earlier box onto this frame, replacing its box, one undo step", () => {
    const m = model();
    m.select(0);
    m.goTo(2);
    assert.equal(copyPrevious(m), 0);
    assert.deepEqual(frameIds(m.tracks[0]), ["f0", "f2", "f4"]);
    assert.deepEqual(m.boxOn(m.tracks[0]), { frame_id: "f2", xyxyn: [0.1, 0.1, 0.3, 0.3], confidence: null });
    m.goTo(5);
    assert.equal(copyPrevious(m), 4);
    m.goTo(4);
    assert.equal(copyPrevious(m), 2); // replaces frame 4's box with frame 2's
    assert.deepEqual(m.boxOn(m.tracks[0]).xyxyn, [0.1, 0.1, 0.3, 0.3]);
    assert.equal(m.undoStack.length, 3);
    assert.equal(m.dirty, true);
    m.undo();
    assert.deepEqual(m.boxOn(m.tracks[0]).xyxyn, [0.3, 0.2, 0.5, 0.4]);
  });

  test("p does nothing without an earlier box or a selected track", () => {
    const m = model();
    assert.equal(copyPrevious(m), -1);
    m.select(1, { jump: false });
    assert.equal(copyPrevious(m), -1); // frame 0: T2 has no earlier box
    assert.deepEqual([m.dirty, m.undoStack.length], [false, 0]);
  });
});

describe("interpolate", () => {
  test("on a frame in a gap, fills the gap linearly", () => {
    const m = model();
    m.select(0);
    m.goTo(2);
    assert.equal(interpolate(m), 3);
    assert.deepEqual(frameIds(m.tracks[0]), ["f0", "f1", "f2", "f3", "f4"]);
    close(m.boxOn(m.tracks[0], 1).xyxyn, [0.15, 0.125, 0.35, 0.325]);
    close(m.boxOn(m.tracks[0], 2).xyxyn, [0.2, 0.15, 0.4, 0.35]);
    close(m.boxOn(m.tracks[0], 3).xyxyn, [0.25, 0.175, 0.45, 0.375]);
    assert.equal(m.boxOn(m.tracks[0], 3).confidence, null);
    assert.equal(m.undoStack.length, 1);
    m.undo();
    assert.deepEqual(frameIds(m.tracks[0]), ["f0", "f4"]);
  });

  test("on a frame with a box, fills the gaps on both sides of it", () => {
    const m = model();
    m.select(0);
    m.goTo(2);
    copyPrevious(m);
    assert.equal(interpolate(m), 2); // frames 1 and 3
    assert.deepEqual(frameIds(m.tracks[0]), ["f0", "f1", "f2", "f3", "f4"]);
    close(m.boxOn(m.tracks[0], 3).xyxyn, [0.2, 0.15, 0.4, 0.35]);
  });

  test("needs boxes on both sides of the gap", () => {
    const m = model();
    m.select(0);
    m.goTo(5);
    assert.equal(interpolate(m), 0);
    m.select(1, { jump: false });
    m.goTo(2);
    assert.equal(interpolate(m), 0);
    assert.equal(m.undoStack.length, 0);
  });
});

describe("extend", () => {
  test("x gives every frame without a box a copy of the nearest box", () => {
    const m = model();
    m.select(0);
    assert.equal(extend(m), 4);
    assert.deepEqual(frameIds(m.tracks[0]), ["f0", "f1", "f2", "f3", "f4", "f5"]);
    assert.deepEqual(m.boxOn(m.tracks[0], 2).xyxyn, [0.1, 0.1, 0.3, 0.3]);
    assert.deepEqual(m.boxOn(m.tracks[0], 3).xyxyn, [0.3, 0.2, 0.5, 0.4]);
    assert.equal(m.boxOn(m.tracks[0], 5).confidence, null);
    assert.equal(m.boxOn(m.tracks[0], 0).confidence, 0.9); // boxes already there are kept
    assert.equal(extend(m), 0);
    assert.equal(m.undoStack.length, 1);
  });
});

describe("adopt predictions", () => {
  test("e without a selected track starts a track from the most confident prediction", () => {
    const m = model();
    m.goTo(1);
    const adopted = adoptPrediction(m);
    assert.equal(adopted.kind, "new");
    assert.equal(m.tracks.length, 3);
    assert.equal(m.selected, 2);
    assert.deepEqual(m.tracks[2].boxes, [{ frame_id: "f1", xyxyn: [0.6, 0.6, 0.7, 0.7], confidence: 0.9 }]);
    assert.equal(m.tracks[2].smoke_type, null);
    m.undo();
    assert.deepEqual([m.tracks.length, m.selected], [2, -1]);
  });

  test("e on a selected track takes the prediction under its nearest box", () => {
    const m = model();
    m.select(0);
    m.goTo(1);
    assert.equal(adoptPrediction(m).kind, "set");
    assert.deepEqual(m.boxOn(m.tracks[0]), { frame_id: "f1", xyxyn: [0.12, 0.1, 0.32, 0.3], confidence: 0.6 });
    m.goTo(5); // no prediction overlaps: the nearest one
    adoptPrediction(m);
    assert.deepEqual(m.boxOn(m.tracks[0]).xyxyn, [0.8, 0.8, 0.9, 0.9]);
    m.goTo(2);
    assert.equal(adoptPrediction(m), null); // no prediction on frame 2
    assert.equal(m.undoStack.length, 2);
  });

  test("Shift+E adopts, on every frame, the prediction overlapping the track's box or nearest box", () => {
    const m = model();
    m.select(0);
    assert.equal(adoptPredictions(m), 2); // frames 1 and 3; frame 5's prediction is apart
    assert.deepEqual(frameIds(m.tracks[0]), ["f0", "f1", "f3", "f4"]);
    assert.deepEqual(m.boxOn(m.tracks[0], 3), { frame_id: "f3", xyxyn: [0.2, 0.1, 0.42, 0.3], confidence: 0.7 });
    assert.equal(adoptPredictions(m), 0); // already adopted
    assert.equal(m.undoStack.length, 1);
    m.deselect();
    assert.equal(adoptPredictions(m), 0);
  });
});
