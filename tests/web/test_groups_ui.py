"""Recurring objects in the browser: a demo group labelled from the keyboard, then a later
sequence of the same object confirmed with one key on its review page."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.test_review_ui import press, state
from tests.web.web_support import box, jpeg, sequence_id, wait_js

pytestmark = [pytest.mark.browser, sqlite_only]


def _group_state(page: Any) -> dict[str, Any]:
    return page.evaluate("window.lookoutGroup")


def _later_sequence(ui: UI, camera_id: str, where: list[float]) -> str:
    """A sequence of the same camera a week later, as the next import brings it: drafted."""
    api = ui.api()
    project_id = str(ui.demo.project_id)
    made = api.post(
        "/api/sequences",
        json={
            "project_id": project_id,
            "camera_id": camera_id,
            "source": "later-import",
            "source_id": "mast-again",
            "started_at": "2025-07-25T18:00:00Z",
            "platform_score": 0.44,
        },
    )
    assert made.status_code == 201, made.text
    sequence = made.json()["id"]
    for index in range(3):
        metadata = {
            "captured_at": f"2025-07-25T18:0{index}:00Z",
            "source": "later-import",
            "source_id": f"mast-again-{index}",
            "predictions": {"model_name": "platform", "annotations": [box(*where, 0.4)]},
        }
        stored = api.post(
            f"/api/sequences/{sequence}/frames",
            files={"file": (f"f{index}.jpg", jpeg(color=(90, 90, 100 + index)), "image/jpeg")},
            data={"metadata": json.dumps(metadata)},
        )
        assert stored.status_code == 201, stored.text
    drafted = api.post(f"/api/sequences/{sequence}/draft", json={})
    assert drafted.status_code == 200, drafted.text
    return sequence


def test_label_a_group_by_keyboard_then_accept_its_suggestion_with_one_key(ui: UI) -> None:
    page = ui.page
    ui.goto("/sequences")
    page.locator("#groups-link").click()
    page.wait_for_url("**/groups*")
    rows = page.locator("table.groups tbody tr")
    assert rows.count() == 2  # the mast and the chimney: four days each
    rows.filter(has_text="North ridge").get_by_role("link").click()
    wait_js(page, "window.lookoutGroup && window.lookoutGroup.ready")
    assert _group_state(page)["crops"] == 4
    save_screenshot(page, "group")

    # f: false positive, a: antenna, Enter: applied to the four undecided members.
    press(page, "f", "a", "Enter")
    wait_js(page, "window.lookoutGroup.applied === 4")
    page.get_by_text("Decided: false positive (antenna)").wait_for()
    assert page.locator('.member-status[data-status="following"]').count() == 4
    group_id = page.url.rsplit("/", 1)[1]
    group = ui.api().get(f"/api/groups/{group_id}").json()
    assert (group["decision"], group["false_positive_types"]) == ("false_positive", ["antenna"])
    mast = group["members"][0]["sequence_id"]
    review = ui.api().get(f"/api/sequences/{mast}/review").json()
    assert review["processing_stage"] == "annotated"
    assert review["tracks"][0]["decided_by_group"]["group_id"] == group_id

    # The next import brings the mast again: it arrives undecided, with the group's decision
    # suggested; one key takes it, Enter saves.
    later = _later_sequence(ui, group["camera_id"], group["box"])
    page.goto(f"{ui.url}/sequences/{later}")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    assert page.locator("#review-groups").get_by_text("decided: false positive (antenna)").count()
    assert state(page)["tracks"][0]["suggestion"] == "false_positive"
    page.locator("#tracks").get_by_text("group says false positive (antenna)").wait_for()
    press(page, "g")
    assert state(page)["tracks"][0]["decision"] == "false_positive"
    press(page, "Enter")
    wait_js(page, "window.lookoutReview.version === 2")
    saved = ui.api().get(f"/api/sequences/{later}/review").json()
    assert saved["processing_stage"] == "annotated"
    track = saved["tracks"][0]
    assert track["false_positive_types"] == ["antenna"] and "suggestion" not in track
    assert track["decided_by_group"]["confirmed"] is True
    assert sequence_id(ui.lookout, "demo-seq-09") in {m["sequence_id"] for m in group["members"]}
