"""Matching, AP and counts on hand-computed cases, and agreement with pycocotools' COCOeval."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lookout.evaluation.metrics import (
    ImageInput,
    SequenceFrame,
    evaluate,
    match_class,
    sequence_metrics,
)


def one_image(gt, dt, scores, gt_cls=None, dt_cls=None):
    return ImageInput(
        gt_boxes=gt,
        gt_classes=gt_cls or ["smoke"] * len(gt),
        dt_boxes=dt,
        dt_scores=scores,
        dt_classes=dt_cls or ["smoke"] * len(dt),
    )


def test_hand_computed_ap_and_counts():
    # Two truth boxes; detections: 0.9 hits A, 0.8 misses, 0.7 hits B.
    a, b = [0, 0, 10, 10], [20, 20, 30, 30]
    result = evaluate([one_image([a, b], [a, [50, 50, 60, 60], b], [0.9, 0.8, 0.7])])
    # precision 1, 1/2, 2/3 -> monotone 1, 2/3, 2/3 at recall 0.5, 0.5, 1.
    # Recall points 0..0.50 (51 of them) read 1.0, 0.51..1.00 (50) read 2/3.
    expected = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert result.ap50() == pytest.approx(expected, abs=1e-12)
    assert result.results["smoke"].ap(0) == pytest.approx(expected, abs=1e-12)
    # Perfect overlaps: the same at every IoU threshold.
    assert result.ap() == pytest.approx(expected, abs=1e-12)
    counts = result.counts(0.75)
    assert (counts.tp, counts.fp, counts.fn) == (1, 1, 1)
    assert counts.precision == 0.5 and counts.recall == 0.5 and counts.f1 == 0.5
    all_in = result.counts(0.0)
    assert (all_in.tp, all_in.fp, all_in.fn) == (2, 1, 0)
    assert all_in.precision == pytest.approx(2 / 3) and all_in.recall == 1.0
    assert all_in.f1 == pytest.approx(0.8)
    none = result.counts(0.95)
    assert (none.tp, none.fp, none.fn) == (0, 0, 2)
    assert none.precision is None and none.recall == 0.0 and none.f1 == 0.0
    best = result.best_f1()
    assert best.threshold == 0.7 and best.f1 == pytest.approx(0.8)


def test_ap_over_iou_thresholds_counts_only_thresholds_met():
    # IoU 0.7 exactly: a TP at 0.50 .. 0.70 (5 of 10 thresholds), a miss above.
    gt = [0.0, 0.0, 10.0, 10.0]
    dt = [0.0, 0.0, 10.0, 7.0]  # inter 70, union 100
    result = evaluate([one_image([gt], [dt], [0.5])])
    assert result.ap50() == pytest.approx(1.0)
    assert result.ap() == pytest.approx(0.5)


def test_greedy_matching_takes_highest_iou_and_each_truth_once():
    truth = np.array([[0, 0, 10, 10], [0, 0, 10, 12]], dtype=float)
    dets = np.array([[0, 0, 10, 11.5], [0, 0, 10, 10]], dtype=float)
    order, matched, _ = match_class(truth, dets, np.array([0.9, 0.8]), np.array([0.5]))
    # The 0.9 detection overlaps truth 1 best (IoU 11.5/12); the 0.8 one gets truth 0.
    assert order.tolist() == [0, 1]
    assert matched[0].tolist() == [1, 0]
    # A duplicate of an already matched box is a false positive.
    order, matched, _ = match_class(
        truth[:1],
        np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float),
        np.array([0.6, 0.9]),
        np.array([0.5]),
    )
    assert order.tolist() == [1, 0] and matched[0].tolist() == [0, -1]


def test_classes_must_agree_and_classes_without_truth_have_no_ap():
    box = [0, 0, 10, 10]
    result = evaluate([one_image([box], [box], [0.9], gt_cls=["smoke"], dt_cls=["fire"])])
    assert result.results["smoke"].ap(0) == 0.0
    assert result.results["fire"].ap(0) is None
    # Overall AP averages classes with truth only; counts treat "fire" as a false alarm.
    assert result.ap50() == 0.0
    counts = result.counts(0.5)
    assert (counts.tp, counts.fp, counts.fn) == (0, 1, 1)
    outcomes = sorted(o["outcome"] for o in result.image_outcomes(0, 0.5))
    assert outcomes == ["fn", "fp"]


def test_image_outcomes_follow_the_threshold():
    a = [0, 0, 10, 10]
    result = evaluate([one_image([a], [a, [40, 40, 50, 50]], [0.4, 0.9])])
    high = result.image_outcomes(0, 0.5)
    assert sorted((o["outcome"], o["dt"], o["gt"]) for o in high) == [
        ("fn", None, 0),
        ("fp", 1, None),
    ]
    low = result.image_outcomes(0, 0.3)
    assert sorted((o["outcome"], o["dt"], o["gt"]) for o in low) == [("fp", 1, None), ("tp", 0, 0)]
    assert result.image_fired(0, 0.5) == (False, True)
    assert result.image_fired(0, 0.3) == (True, True)
    assert result.image_fired(0, 0.95) == (False, False)


def test_sequence_metrics_hand_case():
    def frames(*specs):
        return [SequenceFrame(i, *spec) for i, spec in enumerate(specs)]

    caught_late = frames((True, False, False), (True, False, True), (True, True, True))
    caught_first = frames((True, True, True))
    missed = frames((False, False, False), (True, False, False))
    quiet = frames((False, False, False))
    alarm = frames((False, False, False), (False, False, True))
    result = sequence_metrics([caught_late, caught_first, missed, quiet, alarm])
    assert result["smoke_sequences"] == 3 and result["caught"] == 2
    assert result["catch_rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert result["frames_to_fire"]["mean"] == 1.0
    assert result["frames_to_fire"]["median"] == 1.0
    assert result["frames_to_fire"]["histogram"] == {"0": 1, "2": 1}
    assert result["sequences_without_smoke"] == 2 and result["false_alarm_sequences"] == 1


# --- Agreement with COCOeval ----------------------------------------------------------------


def _generate(seed: int, *, images: int = 40, classes: int = 3, tie_scores: bool = False):
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(classes)]
    data = []
    for _ in range(images):
        width, height = int(rng.integers(200, 800)), int(rng.integers(200, 800))
        gts, dts = [], []
        for _ in range(int(rng.integers(0, 6))):
            w, h = rng.uniform(10, width / 3), rng.uniform(10, height / 3)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            cls = int(rng.integers(0, classes))
            gts.append((cls, [x, y, w, h]))
            for _ in range(int(rng.integers(0, 3))):  # detections near this truth
                jx, jy = rng.normal(0, w * 0.06), rng.normal(0, h * 0.06)
                sw, sh = w * rng.uniform(0.85, 1.15), h * rng.uniform(0.85, 1.15)
                bx, by = min(max(x + jx, 0), width - 1), min(max(y + jy, 0), height - 1)
                bw, bh = min(sw, width - bx), min(sh, height - by)
                dcls = cls if rng.uniform() < 0.85 else int(rng.integers(0, classes))
                dts.append((dcls, [bx, by, bw, bh]))
        for _ in range(int(rng.integers(0, 3))):  # stray detections
            w, h = rng.uniform(5, width / 4), rng.uniform(5, height / 4)
            dts.append(
                (
                    int(rng.integers(0, classes)),
                    [rng.uniform(0, width - w), rng.uniform(0, height - h), w, h],
                )
            )
        scores = rng.uniform(0.01, 1.0, len(dts))
        if tie_scores:
            scores = np.round(scores, 1)
        data.append(
            (width, height, gts, [(c, b, float(s)) for (c, b), s in zip(dts, scores, strict=True)])
        )
    return names, data


def _coco_eval(names, data, max_dets=(1, 10, 100)):
    gt = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)],
    }
    results = []
    ann_id = 0
    for image_id, (width, height, gts, dts) in enumerate(data, start=1):
        gt["images"].append({"id": image_id, "width": width, "height": height, "file_name": "x"})
        for cls, box in gts:
            ann_id += 1
            gt["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": cls + 1,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
        for cls, box, score in dts:
            results.append(
                {"image_id": image_id, "category_id": cls + 1, "bbox": box, "score": score}
            )
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        dets = coco.loadRes(results) if results else COCO()
        ev = COCOeval(coco, dets, "bbox")
        # summarize() reads maxDets 100; no generated image has that many detections.
        ev.params.maxDets = list(max_dets)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _ours(names, data):
    def xyxy(box):
        x, y, w, h = box
        return [x, y, x + w, y + h]

    images = [
        ImageInput(
            gt_boxes=[xyxy(b) for _, b in gts],
            gt_classes=[names[c] for c, _ in gts],
            dt_boxes=[xyxy(b) for _, b, _ in dts],
            dt_scores=[s for _, _, s in dts],
            dt_classes=[names[c] for c, _, _ in dts],
        )
        for _, _, gts, dts in data
    ]
    return evaluate(images, classes=names)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tie_scores", [False, True])
def test_ap_agrees_with_cocoeval(seed, tie_scores):
    names, data = _generate(seed, tie_scores=tie_scores)
    coco = _coco_eval(names, data)
    ours = _ours(names, data)
    assert ours.ap() == pytest.approx(coco.stats[0], abs=1e-6)
    assert ours.ap50() == pytest.approx(coco.stats[1], abs=1e-6)
    precision = coco.eval["precision"]  # T, R, K, A, M
    for k, name in enumerate(names):
        block = precision[:, :, k, 0, -1]
        if (block > -1).any():
            assert ours.results[name].ap() == pytest.approx(float(np.mean(block)), abs=1e-6)
            assert ours.results[name].ap(0) == pytest.approx(float(np.mean(block[0])), abs=1e-6)
            recall = coco.eval["recall"][:, k, 0, -1]
            assert np.allclose(ours.results[name].recall[:10], recall, atol=1e-9)
        else:
            assert ours.results[name].ap() is None
    # The PR curve at IoU 0.5 is COCO's, averaged over classes with truth.
    rows = [precision[0, :, k, 0, -1] for k in range(len(names)) if precision[0, 0, k, 0, -1] > -1]
    assert np.allclose(ours.pr_curve(), np.mean(rows, axis=0), atol=1e-6)


def _coco_ap(ev, t=None):
    block = ev.eval["precision"][:, :, :, 0, -1]
    block = block if t is None else block[t : t + 1]
    return float(np.mean(block[block > -1]))


def test_max_dets_caps_detections_per_image_like_cocoeval():
    names, data = _generate(11, images=20)
    coco = _coco_eval(names, data, max_dets=(1, 2, 3))
    images = [
        ImageInput(
            gt_boxes=[[b[0], b[1], b[0] + b[2], b[1] + b[3]] for _, b in gts],
            gt_classes=[names[c] for c, _ in gts],
            dt_boxes=[[b[0], b[1], b[0] + b[2], b[1] + b[3]] for _, b, _ in dts],
            dt_scores=[s for _, _, s in dts],
            dt_classes=[names[c] for c, _, _ in dts],
        )
        for _, _, gts, dts in data
    ]
    capped = evaluate(images, classes=names, max_dets=3)
    uncapped = evaluate(images, classes=names)
    assert capped.ap() == pytest.approx(_coco_ap(coco), abs=1e-6)
    assert capped.ap50() == pytest.approx(_coco_ap(coco, 0), abs=1e-6)
    assert capped.ap() != pytest.approx(uncapped.ap(), abs=1e-6)
