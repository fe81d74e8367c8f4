"""Deterministic data for the fake Pyronear alert platform.

Everything here is a pure function of :class:`FakePlatformConfig` (mostly of its
``seed``), so tests can compute the exact answers the server will give.

Faithfulness notes (checked against pyronear/pyro-api):

* Timestamps are naive ISO-8601 strings in UTC with microseconds
  (``"2024-01-01T03:12:45.123456"``), as pyro-api stores ``datetime.utcnow()``.
* 2025 schema: a detection is one uploaded frame; ``bboxes`` is a string holding a
  Python-style list of 0..5 tuples ``(xmin,ymin,xmax,ymax,conf)``, 3 decimals, no
  spaces, e.g. ``"[(0.12,0.4,0.2,0.5,0.83)]"`` or ``"[]"``.
* Later schema (pyro-api since 2026): a camera's post of a frame with N boxes becomes N
  detection rows sharing one ``bucket_key``, each with ``bbox`` a *single-tuple list
  string* (``"[(0.12,0.4,0.2,0.5,0.83)]"``) and ``others_bboxes`` the frame's other boxes
  (``"[(0.6,0.41,0.65,0.47,0.31)]"``) or ``null``; each row belongs to the sequence of its
  own object.  Here the plume's rows form the sequence generated for it; a persistent second
  object (an antenna, a chimney: a recurring false alarm) that some sequences hold gets a
  *sibling sequence* of its own whose rows share the plume sequence's images; one-off
  extras (glare, a cloud) stay in ``others_bboxes`` only.  A frame of a sequence where its
  object was not detected arrives as a *continuity row* with ``bbox "[]"``.  The later
  platform refuses zero-area boxes (422), so that schema never holds one.  Rows that exist
  only in the later schema (the siblings') take ids after every 2025 id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Schema = Literal["2025", "later"]
Box = tuple[float, float, float, float, float]

LABELS: tuple[str | None, ...] = (
    None,
    None,
    "wildfire_smoke",
    "wildfire_smoke",
    "other_smoke",
    "other",
)
SITES = (
    "brison",
    "pouzauges",
    "serre-de-barre",
    "croix-augas",
    "moret",
    "marguerite",
    "valbonne",
    "st-peray",
    "ardeche-sud",
    "mont-ventoux",
)
ORG_NAMES = ("sdis-07", "sdis-77", "sdis-26", "sdis-84", "sdis-30", "sdis-13", "sdis-83", "sdis-04")
MAX_BOXES = 5
# Share of sequences whose frames also hold a persistent second object.
SECOND_OBJECT_SHARE = 0.3


def _default_users() -> dict[str, tuple[str, str, int]]:
    """Demo users: one agent per default org plus an admin of organization 1."""
    return {
        "org1-user": ("org1-pass", "agent", 1),
        "org2-user": ("org2-pass", "agent", 2),
        "admin": ("admin-pass", "admin", 1),
    }


@dataclass
class FakePlatformConfig:
    """Everything the fake platform does; mutable while the server runs."""

    seed: int = 0
    organizations: int = 2
    cameras_per_org: int = 2
    # Either an explicit list of ISO dates, or start_date + num_days.
    days: list[str] | None = None
    start_date: str = "2024-01-01"
    num_days: int = 3
    sequences_per_camera_per_day: int = 2
    detections_per_sequence: int = 4
    image_size: tuple[int, int] = (640, 480)
    users: dict[str, tuple[str, str, int]] = field(default_factory=_default_users)
    # Faults.
    latency_s: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limit_rate: float = 0.0
    retry_after_s: int = 1
    timeout_rate: float = 0.0
    timeout_hang_s: float = 30.0
    drop_rate: float = 0.0
    token_ttl_s: float | None = None
    # Once the platform has received this many requests, every token issued so far expires
    # (one expiry, as when a long import outlives its token; later logins are unaffected).
    expire_tokens_at_request: int | None = None
    fault_paths: tuple[str, ...] | None = None
    faults_on_login: bool = False
    broken_image_detection_ids: set[int] = field(default_factory=set)
    # The later platform once answered 404 for a whole detection list when one
    # object was missing from storage.
    broken_image_breaks_list: bool = False
    # Missing/renamed fields per resource: "cameras", "organizations", "sequences", "detections".
    omit_fields: dict[str, set[str]] = field(default_factory=dict)
    rename_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    # Shape of the answers.
    schema: Schema = "2025"
    default_page_limit: int = 15
    url_ttl_s: int = 86400
    public_url: str | None = None

    def day_list(self) -> list[date]:
        """The UTC days that hold sequences."""
        if self.days is not None:
            return [date.fromisoformat(d) for d in self.days]
        start = date.fromisoformat(self.start_date)
        return [start + timedelta(days=i) for i in range(self.num_days)]

    def data_key(self) -> tuple[Any, ...]:
        """The fields the generated data depends on (data is rebuilt when they change)."""
        return (
            self.seed,
            self.organizations,
            self.cameras_per_org,
            tuple(self.day_list()),
            self.sequences_per_camera_per_day,
            self.detections_per_sequence,
        )

    def replace(self, **changes: Any) -> FakePlatformConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Organization:
    """An organization (a fire service)."""

    id: int
    name: str
    telegram_id: str | None
    slack_hook: str | None


@dataclass(frozen=True)
class Camera:
    """A camera with its poses (azimuths it looks at in turn)."""

    id: int
    organization_id: int
    name: str
    angle_of_view: float
    elevation: float
    lat: float
    lon: float
    is_trustable: bool
    created_at: datetime
    horizon: float
    poses: tuple[tuple[int, float], ...]  # (pose_id, azimuth)


@dataclass
class Detection:
    """One uploaded frame; ``plume`` is where the smoke really is (drawn in the image)."""

    id: int
    camera_id: int
    sequence_id: int
    pose_id: int
    azimuth: float
    created_at: datetime
    recorded_at: datetime
    bucket_key: str
    boxes: tuple[Box, ...]
    track_index: int | None
    plume: Box
    # The second object's box index in ``boxes`` (a sibling sequence tracks it since 2026).
    second_index: int | None = None


@dataclass
class Sequence:
    """A run of detections of one plume seen by one camera pose."""

    id: int
    camera_id: int
    pose_id: int
    camera_azimuth: float
    started_at: datetime
    last_seen_at: datetime
    label: str | None
    cone_azimuth: float
    cone_angle: float
    temporal_model_score: float | None
    detection_ids: list[int] = field(default_factory=list)
    # Set on a later-schema sibling: the sequence whose frames it shares.
    sibling_of: int | None = None


@dataclass
class PlatformData:
    """The whole generated platform."""

    organizations: dict[int, Organization]
    cameras: dict[int, Camera]
    sequences: dict[int, Sequence]
    detections: dict[int, Detection]

    def org_of_sequence(self, seq: Sequence) -> int:
        """Organization owning a sequence."""
        return self.cameras[seq.camera_id].organization_id

    siblings: dict[int, Sequence] = field(default_factory=dict)
    later_rows: dict[int, Detection] = field(default_factory=dict)

    def all_sequences(self, schema: Schema) -> list[Sequence]:
        """Every sequence the schema has: the later one adds the sibling sequences."""
        found = list(self.sequences.values())
        return found + list(self.siblings.values()) if schema == "later" else found

    def sequence(self, sequence_id: int, schema: Schema) -> Sequence | None:
        """A sequence by id, if the schema has it."""
        found = self.sequences.get(sequence_id)
        if found is None and schema == "later":
            found = self.siblings.get(sequence_id)
        return found

    def detection(self, detection_id: int, schema: Schema) -> Detection | None:
        """A detection row by id, if the schema has it."""
        found = self.detections.get(detection_id)
        if found is None and schema == "later":
            found = self.later_rows.get(detection_id)
        return found

    def visible_detections(self, seq: Sequence, schema: Schema) -> list[Detection]:
        """The sequence's detection rows as the schema exposes them, oldest first (in the
        later schema a frame without the sequence's object is a continuity row)."""
        if seq.sibling_of is not None:
            return [self.later_rows[i] for i in seq.detection_ids] if schema == "later" else []
        return [self.detections[i] for i in seq.detection_ids]

    def sequences_on(
        self, day: date, organization_id: int | None, schema: Schema = "2025"
    ) -> list[Sequence]:
        """Sequences whose started_at is on ``day``, newest first: one organization's, or
        every organization's (``None``)."""
        found = [
            s
            for s in self.all_sequences(schema)
            if s.started_at.date() == day and organization_id in (None, self.org_of_sequence(s))
        ]
        return sorted(found, key=lambda s: (s.started_at, s.id), reverse=True)


def has_area(box: Box) -> bool:
    """Whether a box spans some area (the later platform refuses those that do not)."""
    return box[0] < box[2] and box[1] < box[3]


def schema_boxes(det: Detection, schema: Schema) -> tuple[Box, ...]:
    """The boxes a detection row carries in the schema (``bbox`` and ``others_bboxes``
    together in the later one, where a zero-area box cannot exist)."""
    return det.boxes if schema == "2025" else tuple(b for b in det.boxes if has_area(b))


# ---------------------------------------------------------------- generation


def _clip(v: float) -> float:
    """Clamp to the normalized range."""
    return min(1.0, max(0.0, v))


def _r3(v: float) -> float:
    """Round to the 3 decimals the platform keeps."""
    return round(v, 3)


def _box(xmin: float, ymin: float, xmax: float, ymax: float, conf: float) -> Box:
    """A clipped, rounded box."""
    return (
        _r3(_clip(xmin)),
        _r3(_clip(ymin)),
        _r3(_clip(xmax)),
        _r3(_clip(ymax)),
        _r3(_clip(conf)),
    )


def _make_organizations(cfg: FakePlatformConfig, rng: random.Random) -> dict[int, Organization]:
    """Organizations 1..N."""
    orgs = {}
    for i in range(1, cfg.organizations + 1):
        name = ORG_NAMES[(i - 1) % len(ORG_NAMES)]
        if i > len(ORG_NAMES):
            name = f"{name}-{i}"
        telegram = f"-100{rng.randrange(10**9, 10**10)}" if rng.random() < 0.5 else None
        slack = (
            f"https://hooks.slack.com/services/T{i:04d}/B{rng.randrange(10**6):06d}/fake"
            if rng.random() < 0.5
            else None
        )
        orgs[i] = Organization(i, name, telegram, slack)
    return orgs


def _make_cameras(cfg: FakePlatformConfig, rng: random.Random) -> dict[int, Camera]:
    """Cameras numbered across organizations, each with 4 poses."""
    cams: dict[int, Camera] = {}
    pose_id = 1
    for org in range(1, cfg.organizations + 1):
        lat0, lon0 = 43.5 + 0.8 * ((org - 1) % 5), 3.5 + 0.9 * ((org - 1) // 5 + (org - 1) % 3)
        for k in range(cfg.cameras_per_org):
            cam_id = len(cams) + 1
            base = rng.uniform(0, 90)
            poses = []
            for p in range(4):
                poses.append((pose_id, round((base + 90 * p) % 360, 1)))
                pose_id += 1
            cams[cam_id] = Camera(
                id=cam_id,
                organization_id=org,
                name=f"{SITES[(cam_id - 1) % len(SITES)]}-{k + 1:02d}",
                angle_of_view=rng.choice((54.2, 87.0)),
                elevation=round(rng.uniform(150, 1500), 1),
                lat=round(lat0 + rng.uniform(-0.3, 0.3), 6),
                lon=round(lon0 + rng.uniform(-0.3, 0.3), 6),
                is_trustable=rng.random() < 0.85,
                created_at=datetime(
                    2023,
                    rng.randint(1, 12),
                    rng.randint(1, 28),
                    rng.randint(0, 23),
                    rng.randint(0, 59),
                ),
                horizon=rng.uniform(0.42, 0.6),
                poses=tuple(poses),
            )
    return cams


def _extra_box(rng: random.Random) -> Box:
    """A false positive elsewhere in the frame (cloud, glare, dust)."""
    x, y = rng.uniform(0.0, 0.9), rng.uniform(0.05, 0.85)
    return _box(
        x, y, x + rng.uniform(0.01, 0.1), y + rng.uniform(0.01, 0.08), rng.uniform(0.1, 0.6)
    )


def _plume_track(cam: Camera, n: int, rng: random.Random) -> list[Box]:
    """Boxes of a plume that persists and drifts slowly across ``n`` frames."""
    cx, w, h = rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.12), rng.uniform(0.03, 0.1)
    bottom = cam.horizon + rng.uniform(-0.02, 0.04)
    wind = rng.choice((-1, 1)) * rng.uniform(0.0005, 0.003)
    conf = rng.uniform(0.35, 0.85)
    track = []
    for _ in range(n):
        jit = [rng.gauss(0, 0.002) for _ in range(4)]
        track.append(
            _box(
                cx - w / 2 + jit[0],
                bottom - h + jit[1],
                cx + w / 2 + jit[2],
                bottom + jit[3],
                conf + rng.uniform(-0.1, 0.1),
            )
        )
        # Smoke rises and spreads: the box grows and slides with the wind.
        cx += wind + rng.gauss(0, 0.002)
        w *= rng.uniform(1.0, 1.04)
        h *= rng.uniform(1.01, 1.05)
        conf = min(0.95, conf + rng.uniform(-0.03, 0.05))
    return track


def _frame_boxes(plume: Box, first: bool, rng: random.Random) -> tuple[tuple[Box, ...], int | None]:
    """The boxes reported for one frame and the index of the plume box among them."""
    detected = first or rng.random() < 0.85
    n_extra = rng.choices((0, 1, 2, 3), weights=(70, 20, 7, 3))[0]
    extras = [_extra_box(rng) for _ in range(n_extra)]
    if not detected:
        if rng.random() < 0.5:
            extras = []
        return tuple(extras), None
    pos = rng.randint(0, len(extras))
    boxes = extras[:pos] + [plume] + extras[pos:]
    return tuple(boxes[:MAX_BOXES]), pos


def _static_box(rng: random.Random) -> Box:
    """A recurring false alarm: something fixed in the view (an antenna, a chimney)."""
    x, y = rng.uniform(0.05, 0.85), rng.uniform(0.2, 0.7)
    return _box(x, y, x + rng.uniform(0.02, 0.06), y + rng.uniform(0.03, 0.08), 0.0)


def _add_second_object(frames: list[Detection], seed: int, seq_id: int) -> None:
    """Give some sequences a persistent second object from some frame on (a recurring false
    alarm of their camera and pose), with a random stream of its own so the rest of the data
    stays what it was."""
    rng = random.Random(f"{seed}:{seq_id}:second")
    if rng.random() >= SECOND_OBJECT_SHARE:
        return
    # Fixed in the view: the same place in every sequence of that camera and pose.
    first = frames[0]
    where = _static_box(random.Random(f"{seed}:{first.camera_id}:{first.pose_id}:fixture"))
    for frame in frames[rng.randint(0, len(frames) // 2) :]:
        x0, y0, x1, y1 = (v + rng.gauss(0, 0.001) for v in where[:4])
        box = _box(x0, y0, x1, y1, rng.uniform(0.2, 0.5))
        boxes = list(frame.boxes)
        pos = rng.randint(0, len(boxes))
        boxes.insert(pos, box)
        plume = frame.track_index
        if plume is not None and pos <= plume:
            plume += 1
        if len(boxes) > MAX_BOXES:  # drop the last one-off extra, never a tracked object
            drop = max(i for i in range(len(boxes)) if i not in (plume, pos))
            boxes.pop(drop)
            plume = plume - 1 if plume is not None and drop < plume else plume
            pos = pos - 1 if drop < pos else pos
        frame.boxes, frame.track_index, frame.second_index = tuple(boxes), plume, pos


def _bucket_key(cam: Camera, when: datetime) -> str:
    """An object key shaped like the platform's (content hash + timestamp)."""
    digest = hashlib.sha256(f"{cam.id}-{when.isoformat()}".encode()).hexdigest()[:32]
    return f"{digest}-{when:%Y%m%d%H%M%S}.jpg"


def _raw_sequences(
    cfg: FakePlatformConfig, cams: dict[int, Camera], rng: random.Random
) -> list[tuple]:
    """(started_at, camera, pose, interval) for every sequence, before ids are assigned."""
    out = []
    n_seq, n_det = cfg.sequences_per_camera_per_day, cfg.detections_per_sequence
    for day in cfg.day_list():
        midnight = datetime(day.year, day.month, day.day)
        for cam in cams.values():
            slot = 86400 / max(1, n_seq)
            for i in range(n_seq):
                # Keep each sequence inside its slot so started_at stays on its day.
                interval = min(rng.uniform(15, 60), slot / (n_det + 2))
                span = interval * max(1, n_det)
                offset = slot * i + rng.uniform(0, max(0.0, slot - span - 1))
                start = midnight + timedelta(seconds=offset, microseconds=rng.randrange(10**6))
                out.append((start, cam, rng.choice(cam.poses), interval))
    out.sort(key=lambda t: (t[0], t[1].id))
    return out


def _cone(cam: Camera, cam_az: float, box: Box) -> tuple[float, float]:
    """Azimuth and opening of the cone a box spans, as the platform resolves it."""
    xmin, _, xmax, _, _ = box
    return round((cam_az + cam.angle_of_view * ((xmin + xmax) / 2 - 0.5)) % 360, 2), round(
        cam.angle_of_view * (xmax - xmin), 2
    )


def _build_sequence(
    seq_id: int, raw: tuple, n_det: int, rng: random.Random, seed: int
) -> tuple[Sequence, list[Detection]]:
    """One sequence and its frames (detection ids still 0)."""
    start, cam, (pose_id, cam_az), interval = raw
    track = _plume_track(cam, max(1, n_det), rng)
    frames = []
    for k in range(n_det):
        created = start + timedelta(seconds=interval * k + (rng.uniform(-2, 2) if k else 0))
        boxes, idx = _frame_boxes(track[k], k == 0, rng)
        frames.append(
            Detection(
                id=0,
                camera_id=cam.id,
                sequence_id=seq_id,
                pose_id=pose_id,
                azimuth=cam_az,
                created_at=created,
                recorded_at=created - timedelta(seconds=rng.uniform(0.5, 5)),
                bucket_key=_bucket_key(cam, created),
                boxes=boxes,
                track_index=idx,
                plume=track[k],
            )
        )
    if frames:
        _add_second_object(frames, seed, seq_id)
    last = frames[-1].created_at if n_det > 1 else start + timedelta(seconds=interval)
    cone_az, cone_angle = _cone(cam, cam_az, track[0])
    seq = Sequence(
        id=seq_id,
        camera_id=cam.id,
        pose_id=pose_id,
        camera_azimuth=cam_az,
        started_at=start,
        last_seen_at=last,
        label=rng.choice(LABELS),
        cone_azimuth=cone_az,
        cone_angle=cone_angle,
        temporal_model_score=round(rng.random(), 3) if rng.random() < 0.8 else None,
    )
    return seq, frames


def _force_edge_cases(dets: list[Detection], rng: random.Random) -> None:
    """Make sure an empty frame, a zero-area box and a full 5-box frame all exist."""
    # Never the first frame of a sequence: the platform derives the cone from it.
    first_ids: dict[int, int] = {}
    for d in dets:
        first_ids[d.sequence_id] = min(d.id, first_ids.get(d.sequence_id, d.id))
    # Room for one more box, so adding the zero-area box never pushes the plume out.
    candidates = [d for d in dets if first_ids[d.sequence_id] != d.id and len(d.boxes) < MAX_BOXES]
    if len(candidates) < 3:
        return
    empty, zero, full = rng.sample(candidates, 3)
    if not any(not d.boxes for d in dets):
        empty.boxes, empty.track_index, empty.second_index = (), None, None
    if not any(b[0] == b[2] or b[1] == b[3] for d in dets for b in d.boxes):
        x, y = rng.uniform(0.1, 0.8), rng.uniform(0.1, 0.8)
        zero.boxes = (*zero.boxes, _box(x, y, x, y + 0.05, 0.12))
    if not any(len(d.boxes) == MAX_BOXES for d in dets):
        full.boxes = (full.plume, *(_extra_box(rng) for _ in range(MAX_BOXES - 1)))
        full.track_index, full.second_index = 0, None


def generate(cfg: FakePlatformConfig) -> PlatformData:
    """Build the whole platform from the config, deterministically."""
    rng = random.Random(cfg.seed)
    orgs = _make_organizations(cfg, rng)
    cams = _make_cameras(cfg, rng)
    sequences: dict[int, Sequence] = {}
    frames: list[Detection] = []
    # Ids follow creation order, as database sequences do.
    for seq_id, raw in enumerate(_raw_sequences(cfg, cams, rng), start=1):
        seq, seq_frames = _build_sequence(seq_id, raw, cfg.detections_per_sequence, rng, cfg.seed)
        sequences[seq_id] = seq
        frames.extend(seq_frames)
    frames.sort(key=lambda d: (d.created_at, d.sequence_id))
    for det_id, det in enumerate(frames, start=1):
        det.id = det_id
        sequences[det.sequence_id].detection_ids.append(det_id)
    _force_edge_cases(frames, rng)
    data = PlatformData(orgs, cams, sequences, {d.id: d for d in frames})
    _add_siblings(data, cfg.seed)
    return data


def _add_siblings(data: PlatformData, seed: int) -> None:
    """The later schema's sibling sequences: one per sequence holding a second object,
    from its first frame holding it on, sharing the frames' images."""
    rows: list[Detection] = []
    next_seq = max(data.sequences, default=0) + 1
    for seq in sorted(data.sequences.values(), key=lambda s: (s.started_at, s.id)):
        frames = [data.detections[i] for i in seq.detection_ids]
        first = next((k for k, f in enumerate(frames) if f.second_index is not None), None)
        if first is None:
            continue
        rng = random.Random(f"{seed}:{seq.id}:sibling")
        cam = data.cameras[seq.camera_id]
        own = frames[first].boxes[frames[first].second_index or 0]
        cone_az, cone_angle = _cone(cam, seq.camera_azimuth, own)
        sibling = dataclasses.replace(
            seq,
            id=next_seq,
            started_at=frames[first].created_at,
            label=rng.choice((None, "other")),
            cone_azimuth=cone_az,
            cone_angle=cone_angle,
            temporal_model_score=round(rng.random() * 0.3, 3),
            detection_ids=[],
            sibling_of=seq.id,
        )
        data.siblings[next_seq] = sibling
        next_seq += 1
        rows += [
            dataclasses.replace(
                f, sequence_id=sibling.id, track_index=f.second_index, second_index=None
            )
            for f in frames[first:]
        ]
    rows.sort(key=lambda d: (d.created_at, d.sequence_id))
    for row_id, row in enumerate(rows, start=max(data.detections, default=0) + 1):
        row.id = row_id
        data.siblings[row.sequence_id].detection_ids.append(row_id)
        data.later_rows[row_id] = row


# ---------------------------------------------------------------- JSON shapes


def iso(ts: datetime | None) -> str | None:
    """Naive UTC ISO string, as pyro-api serializes its datetimes."""
    return ts.isoformat(timespec="microseconds") if ts is not None else None


def format_box(box: Box) -> str:
    """One box as the platform writes it: ``(0.12,0.4,0.2,0.5,0.83)``."""
    return "(" + ",".join(str(v) for v in box) + ")"


def format_boxes(boxes: tuple[Box, ...] | list[Box]) -> str:
    """A Python-style list of box tuples, no spaces."""
    return "[" + ",".join(format_box(b) for b in boxes) + "]"


def organization_json(org: Organization) -> dict[str, Any]:
    """An organization item."""
    return {
        "id": org.id,
        "name": org.name,
        "telegram_id": org.telegram_id,
        "slack_hook": org.slack_hook,
    }


def camera_json(cam: Camera, last: Detection | None, last_url: str | None) -> dict[str, Any]:
    """A camera item; ``last`` is its latest frame."""
    return {
        "id": cam.id,
        "organization_id": cam.organization_id,
        "name": cam.name,
        "angle_of_view": cam.angle_of_view,
        "elevation": cam.elevation,
        "lat": cam.lat,
        "lon": cam.lon,
        "is_trustable": cam.is_trustable,
        "last_active_at": iso(last.created_at if last else cam.created_at),
        "last_image": last.bucket_key if last else None,
        "created_at": iso(cam.created_at),
        "last_image_url": last_url,
    }


def _is_wildfire(label: str | None, schema: Schema) -> bool | str | None:
    """The label as each schema spells it."""
    if schema == "later" or label is None:
        return label
    return label == "wildfire_smoke"


def sequence_json(seq: Sequence, data: PlatformData, schema: Schema) -> dict[str, Any]:
    """A sequence item in the given schema: the 2026 one has no `azimuth`/`cone_azimuth`
    but the camera's heading and the smoke's direction under new names, and a score."""
    out: dict[str, Any] = {
        "id": seq.id,
        "camera_id": seq.camera_id,
        "is_wildfire": _is_wildfire(seq.label, schema),
        "started_at": iso(seq.started_at),
        "last_seen_at": iso(seq.last_seen_at),
        "cone_angle": seq.cone_angle,
    }
    if schema == "2025":
        return out | {"azimuth": seq.camera_azimuth, "cone_azimuth": seq.cone_azimuth}
    visible = data.visible_detections(seq, schema)
    confs = [b[4] for d in visible for b in schema_boxes(d, schema)]
    return out | {
        "camera_azimuth": seq.camera_azimuth,
        "sequence_azimuth": seq.cone_azimuth,
        "pose_id": seq.pose_id,
        "max_conf": max(confs) if confs else None,
        "temporal_model_score": seq.temporal_model_score,
        "detections_count": len(visible),
        # A person confirmed the platform's label (the fake labels only validated ones).
        "is_validated": seq.label is not None,
    }


def crop_key(bucket_key: str) -> str:
    """Where the 2026 platform keeps a detection's crop of its box."""
    stem, dot, ext = bucket_key.rpartition(".")
    return f"{stem}_crop.{ext}" if dot else f"{bucket_key}_crop"


def detection_json(
    det: Detection, schema: Schema, url: str, crop_url: str | None = None
) -> dict[str, Any]:
    """A detection item in the given schema (see the module docstring for bbox encoding);
    2026 items have no `azimuth` but `recorded_at` and a crop (`crop_bucket_key`,
    `crop_url`)."""
    out: dict[str, Any] = {"id": det.id, "camera_id": det.camera_id, "sequence_id": det.sequence_id}
    if schema == "2025":
        out |= {
            "azimuth": det.azimuth,
            "bucket_key": det.bucket_key,
            "bboxes": format_boxes(det.boxes),
        }
    else:
        idx = det.track_index
        own = det.boxes[idx : idx + 1] if idx is not None else ()  # () is a continuity row
        others = [b for i, b in enumerate(det.boxes) if i != idx and has_area(b)]
        out |= {
            "pose_id": det.pose_id,
            "bucket_key": det.bucket_key,
            "bbox": format_boxes(own),
            "others_bboxes": format_boxes(others) if others else None,
            "recorded_at": iso(det.recorded_at),
            "crop_bucket_key": crop_key(det.bucket_key),
            "crop_url": crop_url,
        }
    return out | {"created_at": iso(det.created_at), "url": url}


# ---------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expected:
    """Exact counts the server will expose for a config (in its schema)."""

    organizations: int
    cameras_per_org: dict[int, int]
    sequences_per_org_per_day: dict[int, dict[str, int]]
    sequences_per_org: dict[int, int]
    sequences_total: int
    detections_per_sequence: dict[int, int]
    detections_per_org: dict[int, int]
    detections_total: int
    boxes_per_org: dict[int, int]
    boxes_total: int
    empty_detections: int
    zero_area_boxes: int


def expected(cfg: FakePlatformConfig, schema: Schema | None = None) -> Expected:
    """Compute the counts an import of the whole fake platform should find."""
    schema = schema or cfg.schema
    data = generate(cfg)
    per_day: dict[int, Counter[str]] = {o: Counter() for o in data.organizations}
    dets_per_seq: dict[int, int] = {}
    dets_org: Counter[int] = Counter()
    boxes_org: Counter[int] = Counter()
    empty = zero = 0
    sequences = data.all_sequences(schema)
    for seq in sequences:
        org = data.org_of_sequence(seq)
        per_day[org][seq.started_at.date().isoformat()] += 1
        dets = data.visible_detections(seq, schema)
        dets_per_seq[seq.id] = len(dets)
        dets_org[org] += len(dets)
        boxes = [b for d in dets for b in schema_boxes(d, schema)]
        boxes_org[org] += len(boxes)
        empty += sum(1 for d in dets if not schema_boxes(d, schema))
        zero += sum(1 for b in boxes if not has_area(b))
    orgs = list(data.organizations)
    return Expected(
        organizations=len(orgs),
        cameras_per_org={
            o: sum(c.organization_id == o for c in data.cameras.values()) for o in orgs
        },
        sequences_per_org_per_day={o: dict(per_day[o]) for o in orgs},
        sequences_per_org={o: sum(per_day[o].values()) for o in orgs},
        sequences_total=len(sequences),
        detections_per_sequence=dets_per_seq,
        detections_per_org={o: dets_org[o] for o in orgs},
        detections_total=sum(dets_org.values()),
        boxes_per_org={o: boxes_org[o] for o in orgs},
        boxes_total=sum(boxes_org.values()),
        empty_detections=empty,
        zero_area_boxes=zero,
    )


# ---------------------------------------------------------------- images


def _backdrop(cam: Camera, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Sky gradient above the camera's horizon, darker ground below, with sensor noise."""
    w, h = size
    hy = min(h - 1, max(1, int(cam.horizon * h)))
    t_sky = np.linspace(0.0, 1.0, hy)[:, None]
    sky = (1 - t_sky) * np.array([95.0, 150.0, 210.0]) + t_sky * np.array([200.0, 215.0, 230.0])
    t_gnd = np.linspace(0.0, 1.0, h - hy)[:, None]
    ground = (1 - t_gnd) * np.array([105.0, 115.0, 80.0]) + t_gnd * np.array([55.0, 70.0, 40.0])
    img = np.empty((h, w, 3))
    img[:hy] = sky[:, None, :]
    img[hy:] = ground[:, None, :]
    img += rng.normal(0.0, 3.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _plume_mask(plume: Box, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A soft mask of stacked puffs filling the plume's box, widening as it rises."""
    w, h = size
    x0, y0 = plume[0] * w, plume[1] * h
    x1, y1 = max(plume[2] * w, x0 + 2), max(plume[3] * h, y0 + 2)
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    puffs = 6
    for i in range(puffs):
        cy = y1 - (i + 0.5) * (y1 - y0) / puffs
        rx = (x1 - x0) / 2 * (0.4 + 0.6 * i / (puffs - 1))
        ry = (y1 - y0) / puffs * 1.2
        cx = (x0 + x1) / 2 + rng.normal(0.0, (x1 - x0) * 0.05)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=int(150 + 10 * i))
    return mask.filter(ImageFilter.GaussianBlur(max(1.0, (x1 - x0) / 10)))


def render_jpeg(cam: Camera, det: Detection, size: tuple[int, int], seed: int) -> bytes:
    """The frame behind a detection: landscape plus a grey plume where the smoke is."""
    rng = np.random.default_rng([seed, det.id])
    base = Image.fromarray(_backdrop(cam, size, rng))
    smoke = Image.new("RGB", size, (188, 188, 192))
    frame = Image.composite(smoke, base, _plume_mask(det.plume, size, rng))
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=85)
    return out.getvalue()
