"""Cross-frame clustering of predicted boxes into draft review tracks."""

from __future__ import annotations

import math
import random

import pytest

from lookout.geometry import iou
from lookout.sequences import drafting
from lookout.sequences.drafting import (
    DraftParams,
    DraftTrack,
    FrameBox,
    cluster_tracks,
    track_to_dict,
)

DEFAULT = DraftParams()


def fb(frame: int, xyxyn: object, confidence: float = 0.9, class_name: str = "smoke") -> FrameBox:
    """A box on frame `frame`, whose id is derived from the index."""
    return FrameBox(frame, f"f{frame}", xyxyn, confidence, class_name)  # type: ignore[arg-type]


def square(x: float, y: float, size: float = 0.1) -> tuple[float, float, float, float]:
    """A size x size box with top-left corner (x, y)."""
    return (x, y, x + size, y + size)


def frames_of(track: DraftTrack) -> list[int]:
    """Frame indices of a track's boxes."""
    return [b.frame_index for b in track.boxes]


# --- basic clustering -------------------------------------------------------------------


def test_drifting_plume_is_one_track() -> None:
    # Shifts of 0.03 per frame on a 0.1 box: consecutive IoU 0.54, but frames two apart only
    # 0.25, so the plume is only one track if each box is matched to the track's latest box.
    boxes = [fb(f, square(0.1 + 0.03 * f, 0.2)) for f in range(5)]
    assert iou(boxes[0].xyxyn, boxes[2].xyxyn) < DEFAULT.iou_threshold
    assert iou(boxes[0].xyxyn, boxes[4].xyxyn) == 0.0
    tracks = cluster_tracks(boxes, DEFAULT)
    assert len(tracks) == 1
    track = tracks[0]
    assert track.frame_ids == ["f0", "f1", "f2", "f3", "f4"]
    assert track.first_frame_index == 0
    assert track.last_frame_index == 4
    assert [b.xyxyn for b in track.boxes] == [b.xyxyn for b in boxes]


def test_two_separated_plumes_are_two_tracks() -> None:
    left = [fb(f, square(0.1, 0.1)) for f in range(4)]
    right = [fb(f, square(0.6, 0.6)) for f in range(4)]
    tracks = cluster_tracks(right + left, DEFAULT)
    assert len(tracks) == 2
    # Same first frame, so ordered by position: the left plume first.
    assert [b.xyxyn for b in tracks[0].boxes] == [square(0.1, 0.1)] * 4
    assert [b.xyxyn for b in tracks[1].boxes] == [square(0.6, 0.6)] * 4
    assert all(frames_of(t) == [0, 1, 2, 3] for t in tracks)


def test_tracks_ordered_by_first_frame_before_position() -> None:
    late_left = [fb(f, square(0.05, 0.1)) for f in (2, 3)]
    early_right = [fb(f, square(0.7, 0.1)) for f in (0, 1)]
    tracks = cluster_tracks(late_left + early_right, DEFAULT)
    assert [t.first_frame_index for t in tracks] == [0, 2]
    assert tracks[0].boxes[0].xyxyn == square(0.7, 0.1)


def test_overlapping_boxes_in_one_frame_never_share_a_track() -> None:
    a, b = (0.1, 0.1, 0.3, 0.3), (0.12, 0.1, 0.32, 0.3)
    assert iou(a, b) > 0.8  # they would merge if the one-per-frame rule were ignored
    boxes = [fb(f, box) for f in range(3) for box in (a, b)]
    tracks = cluster_tracks(boxes, DEFAULT)
    assert len(tracks) == 2
    for track in tracks:
        assert frames_of(track) == [0, 1, 2]
    assert [bx.xyxyn for bx in tracks[0].boxes] == [a, a, a]
    assert [bx.xyxyn for bx in tracks[1].boxes] == [b, b, b]


def test_second_box_in_same_frame_starts_a_new_track() -> None:
    first = fb(0, (0.1, 0.1, 0.3, 0.3))
    close = fb(1, (0.11, 0.1, 0.31, 0.3))  # IoU 0.905 with `first`
    far = fb(1, (0.15, 0.1, 0.35, 0.3))  # IoU 0.6 with `first`
    tracks = cluster_tracks([far, first, close], DEFAULT)
    assert [[b.xyxyn for b in t.boxes] for t in tracks] == [
        [first.xyxyn, close.xyxyn],
        [far.xyxyn],
    ]


def test_box_joins_the_track_it_overlaps_most() -> None:
    # Two non-overlapping tracks; the frame-1 box overlaps the right one more.
    left, right = fb(0, (0.1, 0.1, 0.3, 0.3)), fb(0, (0.3, 0.1, 0.5, 0.3))
    between = fb(1, (0.22, 0.1, 0.42, 0.3))  # IoU 0.25 with left, 0.43 with right
    tracks = cluster_tracks([left, right, between], DraftParams(iou_threshold=0.2))
    assert len(tracks) == 2
    assert tracks[0].boxes == [left]
    assert tracks[1].boxes == [right, between]


def test_empty_input_gives_no_tracks() -> None:
    assert cluster_tracks([], DEFAULT) == []
    assert cluster_tracks(iter(()), DEFAULT) == []


# --- filtering --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        (0.1, 0.1, 0.1, 0.3),  # zero width
        (0.1, 0.3, 0.4, 0.3),  # zero height
        (0.4, 0.1, 0.2, 0.3),  # x2 < x1
        (0.1, math.nan, 0.2, 0.3),
        (1.1, 0.1, 1.4, 0.3),  # zero width after clipping
        (),  # empty: also forces the per-box (slow) validation path
        None,
        (0.1, 0.2, 0.3),
    ],
)
def test_degenerate_and_empty_boxes_are_dropped(bad: object) -> None:
    good = fb(0, square(0.5, 0.5))
    tracks = cluster_tracks([fb(0, bad), good, fb(1, bad)], DEFAULT)
    assert len(tracks) == 1
    assert tracks[0].boxes == [good]


def test_kept_boxes_are_clipped_to_unit_square() -> None:
    tracks = cluster_tracks([fb(0, (-0.1, 0.2, 0.3, 1.2))], DEFAULT)
    assert tracks[0].boxes[0].xyxyn == (0.0, 0.2, 0.3, 1.0)


def test_list_coordinates_are_stored_as_tuples() -> None:
    tracks = cluster_tracks([fb(0, [0.1, 0.1, 0.2, 0.2])], DEFAULT)
    assert tracks[0].boxes[0].xyxyn == (0.1, 0.1, 0.2, 0.2)
    assert isinstance(tracks[0].boxes[0].xyxyn, tuple)


def test_confidence_threshold_zero_keeps_low_confidence_box() -> None:
    weak = fb(0, square(0.1, 0.1), confidence=0.01)
    assert [t.boxes for t in cluster_tracks([weak], DraftParams(confidence_threshold=0.0))] == [
        [weak]
    ]


def test_confidence_threshold_drops_low_confidence_box() -> None:
    weak = fb(0, square(0.1, 0.1), confidence=0.01)
    strong = fb(1, square(0.1, 0.1), confidence=0.7)
    tracks = cluster_tracks([weak, strong], DraftParams(confidence_threshold=0.5))
    assert [t.boxes for t in tracks] == [[strong]]


def test_confidence_equal_to_threshold_is_kept() -> None:
    box = fb(0, square(0.1, 0.1), confidence=0.5)
    assert len(cluster_tracks([box], DraftParams(confidence_threshold=0.5))) == 1


def test_nan_confidence_is_dropped() -> None:
    assert cluster_tracks([fb(0, square(0.1, 0.1), confidence=math.nan)], DEFAULT) == []


def test_min_cluster_size_drops_singletons() -> None:
    plume = [fb(f, square(0.1, 0.1)) for f in range(3)]
    flash = fb(1, square(0.7, 0.7))
    assert len(cluster_tracks([*plume, flash], DraftParams(min_cluster_size=1))) == 2
    tracks = cluster_tracks([*plume, flash], DraftParams(min_cluster_size=2))
    assert [t.boxes for t in tracks] == [plume]
    assert cluster_tracks([*plume, flash], DraftParams(min_cluster_size=4)) == []


# --- IoU threshold boundary --------------------------------------------------------------


def test_iou_exactly_at_threshold_joins() -> None:
    a, b = fb(0, (0.0, 0.0, 0.5, 0.5)), fb(1, (0.0, 0.0, 0.5, 0.25))
    assert iou(a.xyxyn, b.xyxyn) == 0.5  # exactly representable
    assert len(cluster_tracks([a, b], DraftParams(iou_threshold=0.5))) == 1
    assert len(cluster_tracks([a, b], DraftParams(iou_threshold=0.500001))) == 2


def test_iou_threshold_tolerates_float_rounding() -> None:
    # Nominal IoU 0.15 / 0.5 = 0.3, but floating point gives 0.29999999999999993.
    a, b = fb(0, (0.05, 0.0, 0.25, 1.0)), fb(1, (0.1, 0.0, 0.55, 1.0))
    assert iou(a.xyxyn, b.xyxyn) < 0.3
    assert len(cluster_tracks([a, b], DraftParams(iou_threshold=0.3))) == 1
    assert len(cluster_tracks([a, b], DraftParams(iou_threshold=0.3001))) == 2


def test_iou_threshold_zero_links_even_disjoint_boxes() -> None:
    # Disjoint boxes have IoU 0 >= 0, so threshold 0 links any box to some live track.
    a, b = fb(0, square(0.1, 0.1)), fb(1, square(0.7, 0.7))
    assert len(cluster_tracks([a, b], DraftParams(iou_threshold=0.0))) == 1
    assert len(cluster_tracks([a, b], DraftParams(iou_threshold=0.01))) == 2


# --- gaps ------------------------------------------------------------------------------


def test_track_continues_across_missing_frames() -> None:
    boxes = [fb(f, square(0.1 + 0.01 * f, 0.2)) for f in (0, 1, 4, 5)]
    tracks = cluster_tracks(boxes, DEFAULT)
    assert len(tracks) == 1
    assert frames_of(tracks[0]) == [0, 1, 4, 5]


def test_gap_frame_with_unrelated_box_does_not_break_track() -> None:
    plume = [fb(f, square(0.1, 0.2)) for f in (0, 1, 3)]
    elsewhere = fb(2, square(0.7, 0.7))
    tracks = cluster_tracks([*plume, elsewhere], DEFAULT)
    assert [frames_of(t) for t in tracks] == [[0, 1, 3], [2]]


# --- determinism and invariants -------------------------------------------------------------


def random_sequence(rng: random.Random, frames: int = 30, plumes: int = 3) -> list[FrameBox]:
    """Drifting plumes with jitter, occasional misses, and random false positives."""
    boxes = []
    starts = [(rng.uniform(0, 0.7), rng.uniform(0, 0.7)) for _ in range(plumes)]
    for f in range(frames):
        for x, y in starts:
            if rng.random() < 0.9:
                dx, dy = 0.005 * f + rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01)
                boxes.append(fb(f, (x + dx, y + dy, x + dx + 0.15, y + dy + 0.1), rng.random()))
        if rng.random() < 0.3:
            x, y = rng.uniform(0, 0.9), rng.uniform(0, 0.9)
            boxes.append(fb(f, (x, y, x + 0.05, y + 0.05), rng.random()))
    return boxes


def as_dicts(tracks: list[DraftTrack]) -> list[dict]:
    """Comparable form of a clustering result."""
    return [track_to_dict(t) for t in tracks]


def test_shuffled_input_gives_identical_tracks() -> None:
    rng = random.Random(7)
    for _ in range(20):
        boxes = random_sequence(rng)
        expected = as_dicts(cluster_tracks(boxes, DEFAULT))
        assert len(expected) >= 3
        for _ in range(3):
            shuffled = boxes[:]
            rng.shuffle(shuffled)
            assert as_dicts(cluster_tracks(shuffled, DEFAULT)) == expected


def test_invariants_on_random_sequences() -> None:
    rng = random.Random(11)
    params = DraftParams(confidence_threshold=0.2, iou_threshold=0.3)
    for _ in range(50):
        boxes = random_sequence(rng)
        tracks = cluster_tracks(boxes, params)
        expected_count = sum(b.confidence >= 0.2 for b in boxes)
        assert sum(len(t.boxes) for t in tracks) == expected_count  # nothing lost or duplicated
        for track in tracks:
            indices = frames_of(track)
            assert indices == sorted(set(indices))  # at most one box per frame, in order
            for prev, nxt in zip(track.boxes, track.boxes[1:], strict=False):
                assert iou(prev.xyxyn, nxt.xyxyn) >= 0.3 - 1e-9
        firsts = [(t.first_frame_index, t.boxes[0].xyxyn) for t in tracks]
        assert firsts == sorted(firsts)


def test_large_sequence_path_matches_pairwise_path(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    boxes = random_sequence(rng, frames=60, plumes=5)
    pairwise = as_dicts(cluster_tracks(boxes, DEFAULT))
    # Force the per-frame IoU computation used for very long sequences.
    monkeypatch.setattr(drafting, "PAIRWISE_IOU_MAX_BOXES", 0)
    assert as_dicts(cluster_tracks(boxes, DEFAULT)) == pairwise


def test_frame_id_must_map_to_one_frame_index() -> None:
    clash = [FrameBox(0, "a", square(0.1, 0.1), 0.9), FrameBox(0, "b", square(0.5, 0.5), 0.9)]
    with pytest.raises(ValueError, match="frame_index 0"):
        cluster_tracks(clash, DEFAULT)
    moved = [FrameBox(0, "a", square(0.1, 0.1), 0.9), FrameBox(1, "a", square(0.5, 0.5), 0.9)]
    with pytest.raises(ValueError, match="frame_id 'a'"):
        cluster_tracks(moved, DEFAULT)


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"confidence_threshold": -0.1}, "confidence_threshold"),
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
        ({"confidence_threshold": math.nan}, "confidence_threshold"),
        ({"confidence_threshold": "0.5"}, "confidence_threshold"),
        ({"iou_threshold": -0.01}, "iou_threshold"),
        ({"iou_threshold": 1.01}, "iou_threshold"),
        ({"iou_threshold": True}, "iou_threshold"),
        ({"min_cluster_size": 0}, "min_cluster_size"),
        ({"min_cluster_size": -3}, "min_cluster_size"),
        ({"min_cluster_size": 1.5}, "min_cluster_size"),
        ({"min_cluster_size": True}, "min_cluster_size"),
    ],
)
def test_params_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        DraftParams(**kwargs)


def test_params_accept_bounds() -> None:
    params = DraftParams(confidence_threshold=1.0, iou_threshold=0, min_cluster_size=1)
    assert (params.confidence_threshold, params.iou_threshold) == (1.0, 0)
    assert DraftParams() == DraftParams(0.0, 0.3, 1)


# --- DraftTrack and serialization -------------------------------------------------------------


def test_track_statistics() -> None:
    track = DraftTrack(
        [fb(2, square(0.1, 0.1), 0.2), fb(3, square(0.1, 0.1), 0.6), fb(7, square(0.1, 0.1), 0.4)]
    )
    assert track.frame_ids == ["f2", "f3", "f7"]
    assert track.mean_confidence == pytest.approx(0.4)
    assert track.max_confidence == 0.6
    assert (track.first_frame_index, track.last_frame_index) == (2, 7)


def test_empty_track_is_rejected() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        DraftTrack([])


def test_track_to_dict() -> None:
    track = DraftTrack(
        [
            FrameBox(0, "frame-a", (0.1234567, 0.2, 0.30000049, 0.4), 0.5),
            FrameBox(1, "frame-b", (0.1, 0.2, 0.3, 0.4), 0.75),
        ]
    )
    assert track_to_dict(track) == {
        "decision": "undecided",
        "is_smoke": True,
        "smoke_type": None,
        "false_positive_types": [],
        "confidence": 0.625,
        "boxes": [
            {
                "frame_id": "frame-a",
                "frame_index": 0,
                "xyxyn": [0.123457, 0.2, 0.3, 0.4],
                "confidence": 0.5,
            },
            {
                "frame_id": "frame-b",
                "frame_index": 1,
                "xyxyn": [0.1, 0.2, 0.3, 0.4],
                "confidence": 0.75,
            },
        ],
    }
    assert track_to_dict(track, smoke_type="wildfire")["smoke_type"] == "wildfire"


def test_track_to_dict_is_json_ready() -> None:
    import json

    tracks = cluster_tracks([fb(f, square(0.1, 0.1)) for f in range(2)], DEFAULT)
    data = json.loads(json.dumps(track_to_dict(tracks[0])))
    assert data["boxes"][1]["frame_id"] == "f1"
    assert all(isinstance(v, float) for v in data["boxes"][0]["xyxyn"])
