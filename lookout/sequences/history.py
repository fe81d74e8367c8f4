"""What one saved version of a review changed from the one before it, in words."""

from __future__ import annotations

from typing import Any


def _decision(track: dict[str, Any]) -> str:
    decision = str(track.get("decision") or "undecided")
    detail = track.get("smoke_type") if decision == "smoke" else None
    if decision == "false_positive":
        detail = ", ".join(track.get("false_positive_types") or []) or None
    return f"{decision.replace('_', ' ')} ({detail})" if detail else decision.replace("_", " ")


def _boxes(track: dict[str, Any]) -> dict[str, list[float]]:
    return {
        str(box.get("frame_id")): list(box.get("xyxyn") or [])
        for box in track.get("boxes") or []
        if isinstance(box, dict)
    }


def _track_changes(index: int, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found = []
    if _decision(old) != _decision(new):
        found.append(f"track {index + 1}: {_decision(old)} → {_decision(new)}")
    old_boxes, new_boxes = _boxes(old), _boxes(new)
    added = len(new_boxes.keys() - old_boxes.keys())
    removed = len(old_boxes.keys() - new_boxes.keys())
    moved = sum(
        1
        for frame in new_boxes.keys() & old_boxes.keys()
        if any(abs(a - b) > 1e-6 for a, b in zip(new_boxes[frame], old_boxes[frame], strict=False))
    )
    for count, what in ((added, "added"), (removed, "removed"), (moved, "moved")):
        if count:
            found.append(f"track {index + 1}: {count} box{'es' if count > 1 else ''} {what}")
    return found


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """Stage, flags, tracks added or removed, decisions and boxes changed."""
    if before is None:
        tracks = after.get("tracks") or []
        return [f"first version: {len(tracks)} track{'s' if len(tracks) != 1 else ''}"]
    found = []
    if before.get("processing_stage") != after.get("processing_stage"):
        found.append(f"stage: {before.get('processing_stage')} → {after.get('processing_stage')}")
    for flag, label in (("is_unsure", "unsure"), ("has_missed_smoke", "missed smoke")):
        if bool(before.get(flag)) != bool(after.get(flag)):
            found.append(f"{label}: {'yes' if after.get(flag) else 'no'}")
    old_tracks = [t for t in before.get("tracks") or [] if isinstance(t, dict)]
    new_tracks = [t for t in after.get("tracks") or [] if isinstance(t, dict)]
    for index, (old, new) in enumerate(zip(old_tracks, new_tracks, strict=False)):
        found += _track_changes(index, old, new)
    if len(new_tracks) > len(old_tracks):
        found.append(f"{len(new_tracks) - len(old_tracks)} track(s) added")
    elif len(old_tracks) > len(new_tracks):
        found.append(f"{len(old_tracks) - len(new_tracks)} track(s) removed")
    return found or ["no change"]
