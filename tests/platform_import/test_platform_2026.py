"""The import as the platform behaves in both schema versions, and as the document promises.

- New drafting parameters re-draft drafts nobody touched and keep people's reviews
  ("Automatic Overwriting"); the same parameters rewrite nothing.
- A sequence cut at --detections-limit is counted and logged, never silently.
- Since 2026 `/cameras/` hides untrusted cameras unless asked, and an admin's sequence
  listing spans every organization: neither changes what an import brings in.

Fake platform on loopback, Lookout on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from lookout.fake_platform import RunningFakePlatform, generate
from tests.platform_import.helpers import DAYS, org1_env, run_import, small_config

DATES = ["--date-from", DAYS[0], "--date-end", DAYS[-1]]


def _stored(lookout: Any) -> dict[str, dict[str, Any]]:
    body = lookout.client().get("/api/sequences", params={"source": "pyronear", "limit": 500})
    return {item["source_id"]: item for item in body.json()["items"]}


def _start_review(lookout: Any, sequence_id: str) -> None:
    """A person opens the draft and saves it as in review (their work from now on)."""
    client = lookout.client()
    review = client.get(f"/api/sequences/{sequence_id}/review").json()
    body = {"tracks": [], "processing_stage": "in_review", "version": review["version"]}
    saved = client.put(f"/api/sequences/{sequence_id}/review", json=body)
    assert saved.status_code == 200, saved.text


def test_new_thresholds_redraft_untouched_drafts_only(
    platform: RunningFakePlatform, local_lookout: Any
) -> None:
    first = run_import(platform.url, local_lookout.url, *DATES)
    assert first.exit_code == 0, first.output
    stored = _stored(local_lookout)
    total = len(stored)
    touched = sorted(stored)[0]
    _start_review(local_lookout, stored[touched]["id"])

    second = run_import(platform.url, local_lookout.url, *DATES, "--confidence-threshold", "0.5")
    assert second.exit_code == 0, second.output
    assert second.stat("Drafts redone (drafting parameters changed)") == total - 1
    assert second.stat("Annotations skipped (review started by a person)") == 1
    after = _stored(local_lookout)
    for source_id, item in after.items():
        if source_id == touched:
            assert item["processing_stage"] == "in_review"
            assert item["draft_params"]["confidence_threshold"] == 0.0  # the person's, kept
        else:
            assert item["processing_stage"] == "ready_to_annotate"
            assert item["draft_params"]["confidence_threshold"] == 0.5

    third = run_import(platform.url, local_lookout.url, *DATES, "--confidence-threshold", "0.5")
    assert third.exit_code == 0, third.output
    assert third.stat("Drafts redone (drafting parameters changed)") == 0
    assert third.stat("Annotations already drafted (nothing new)") == total - 1
    assert {k: v["draft_params"] for k, v in _stored(local_lookout).items()} == {
        k: v["draft_params"] for k, v in after.items()
    }

    # A dry run with other parameters says how many drafts it would redo.
    dry = run_import(platform.url, local_lookout.url, *DATES, "--iou-threshold", "0.6", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"Drafts: {total - 1} (skipped, review started by a person: 1)" in dry.stdout


@pytest.mark.parametrize("schema", ["2025", "later"])
def test_a_sequence_cut_at_the_limit_is_reported(
    start_platform: Any, local_lookout: Any, schema: str
) -> None:
    fp = start_platform(detections_per_sequence=6, schema=schema)
    data = generate(fp.config)
    org1 = [s for s in data.all_sequences(schema) if data.org_of_sequence(s) == 1]
    lengths = {s.id: len(data.visible_detections(s, schema)) for s in org1}
    limit = 3
    run = run_import(fp.url, local_lookout.url, *DATES, "--detections-limit", str(limit))
    assert run.exit_code == 0, run.output
    cut = sum(1 for n in lengths.values() if n > limit)
    assert cut > 0  # the data has sequences longer than the limit
    assert run.stat("Sequences cut at --detections-limit") == cut
    assert run.output.count("raise --detections-limit") == cut
    frames = {k: v["frame_count"] for k, v in _stored(local_lookout).items()}
    assert frames == {str(k): min(n, limit) for k, n in lengths.items()}

    whole = run_import(fp.url, local_lookout.url, *DATES, "--detections-limit", "100")
    assert whole.exit_code == 0, whole.output
    assert whole.stat("Sequences cut at --detections-limit") == 0


def _seed_with_untrusted_camera() -> int:
    """A seed where a camera of organization 1 is untrusted and has sequences."""
    for seed in range(300):
        data = generate(small_config(seed=seed, schema="later", cameras_per_org=2))
        untrusted = {c.id for c in data.cameras.values() if not c.is_trustable}
        if any(
            s.camera_id in untrusted and data.org_of_sequence(s) == 1
            for s in data.sequences.values()
        ):
            return seed
    raise AssertionError("no seed gives an untrusted camera with sequences")


def test_later_schema_hidden_cameras_and_admin_listing(
    start_platform: Any, local_lookout: Any
) -> None:
    """The admin (of organization 1) as the only login: in 2026 its listing spans every
    organization, in 2025 only its own; both import organization 1's sequences, those of its
    untrusted camera included (2026 lists that camera only when asked)."""
    seed = _seed_with_untrusted_camera()
    env = org1_env(PLATFORM_LOGIN="admin", PLATFORM_PASSWORD="admin-pass")
    for schema in ("2025", "later"):
        fp = start_platform(seed=seed, schema=schema, cameras_per_org=2)
        data = generate(fp.config)
        org1 = {str(s.id) for s in data.all_sequences(schema) if data.org_of_sequence(s) == 1}
        run = run_import(fp.url, local_lookout.url, *DATES, env=env)
        assert run.exit_code == 0, run.output
        assert run.stat("Failed sequences") == 0
        assert run.stat("Total sequences") == len(org1)
        assert set(_stored(local_lookout)) == org1  # nothing of organization 2
        untrusted = {c.id for c in data.cameras.values() if not c.is_trustable}
        assert any(
            data.sequences[int(i)].camera_id in untrusted for i in org1 if int(i) in data.sequences
        )


def test_later_schema_drafts_only_each_sequences_own_object(
    start_platform: Any, local_lookout: Any
) -> None:
    """Since 2026 a detection names its sequence's box (`bbox`) and the frame's other objects
    (`others_bboxes`, tracked by sibling sequences): only the first is drafted, the others are
    kept as context predictions (drawn, scored as the platform's, never a track here)."""
    fp = start_platform(schema="later", detections_per_sequence=5)
    run = run_import(fp.url, local_lookout.url, *DATES)
    assert run.exit_code == 0, run.output
    client = local_lookout.client()
    context_boxes = 0
    for item in _stored(local_lookout).values():
        detail = client.get(f"/api/sequences/{item['id']}").json()
        own = {
            (f["id"], tuple(p["bbox_xyxyn"]))
            for f in detail["frames"]
            for p in f["predictions"]
            if not p["context"]
        }
        context_boxes += sum(p["context"] for f in detail["frames"] for p in f["predictions"])
        for track in detail["review"]["tracks"]:
            for box in track["boxes"]:
                assert (box["frame_id"], tuple(box["xyxyn"])) in own
    assert context_boxes > 0  # the data has frames with other objects


def _seed_with_recurring_object(days: list[str]) -> int:
    """A seed where one camera pose of organization 1 holds the recurring second object in
    sequences of both days (so the second day's import finds the first day's group)."""
    for seed in range(200):
        data = generate(small_config(seed=seed, schema="later", days=days, cameras_per_org=1))
        spots: dict[tuple[int, int], set[str]] = {}
        for sibling in data.siblings.values():
            if data.org_of_sequence(sibling) == 1:
                key = (sibling.camera_id, sibling.pose_id)
                spots.setdefault(key, set()).add(sibling.started_at.date().isoformat())
        if any(len(found) == len(days) for found in spots.values()):
            return seed
    raise AssertionError("no seed gives a recurring object on every day")


def test_a_recurring_object_is_labelled_once_and_a_later_import_brings_the_suggestion(
    start_platform: Any, local_lookout: Any
) -> None:
    """Issue 18 on platform data: the fake's recurring object (an antenna of one camera pose,
    a sibling sequence of its own since 2026) forms one group across days; deciding the group
    labels every member, and the next day's import arrives with the decision as a suggestion."""
    seed = _seed_with_recurring_object(DAYS)
    fp = start_platform(seed=seed, schema="later", cameras_per_org=1)
    first = run_import(fp.url, local_lookout.url, "--date-from", DAYS[0], "--date-end", DAYS[0])
    assert first.exit_code == 0, first.output
    client = local_lookout.client()
    data = generate(fp.config)
    siblings = {str(s.id) for s in data.siblings.values() if data.org_of_sequence(s) == 1}
    stored = _stored(local_lookout)
    groups = client.get("/api/groups", params={"limit": 100}).json()
    items = groups["items"] if isinstance(groups, dict) else groups
    grouped = {}
    for group in items:
        detail = client.get(f"/api/groups/{group['id']}").json()
        members = {m["sequence_id"] for m in detail["members"]}
        grouped[group["id"]] = {k for k, v in stored.items() if v["id"] in members}
    recurring = [g for g, members in grouped.items() if members and members <= siblings]
    assert recurring, grouped  # the siblings of one spot share a group
    group_id = max(recurring, key=lambda g: len(grouped[g]))
    decided = client.post(
        f"/api/groups/{group_id}/decision",
        json={"decision": "false_positive", "false_positive_types": ["antenna"]},
    )
    assert decided.status_code == 200, decided.text
    for source_id in grouped[group_id]:
        review = client.get(f"/api/sequences/{stored[source_id]['id']}/review").json()
        assert [t["decision"] for t in review["tracks"]] == ["false_positive"]

    second = run_import(fp.url, local_lookout.url, "--date-from", DAYS[1], "--date-end", DAYS[1])
    assert second.exit_code == 0, second.output
    later = set(_stored(local_lookout)) - set(stored)
    joined = client.get(f"/api/groups/{group_id}").json()["members"]
    new_ids = {_stored(local_lookout)[k]["id"] for k in later}
    arrivals = [m for m in joined if m["sequence_id"] in new_ids]
    assert arrivals  # the next day's sibling of that spot joined the decided group
    for member in arrivals:
        review = client.get(f"/api/sequences/{member['sequence_id']}/review").json()
        track = review["tracks"][member["track_index"]]
        assert track["decision"] == "undecided"  # a person confirms it
        assert track["suggestion"]["decision"] == "false_positive"
