"""The camera's heading, the smoke's direction and the platform's score and label on a
sequence: stored, normalized, filtered and sorted through the API, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Lookout


def _create(client: httpx.Client, project_id: str, name: str, **fields: Any) -> httpx.Response:
    body = {"project_id": project_id, "source": "pyronear", "source_id": name}
    return client.post(
        "/api/sequences", json=body | {"started_at": "2024-01-01T10:00:00Z"} | fields
    )


@pytest.fixture
def world(lookout: Lookout) -> tuple[httpx.Client, str]:
    client = lookout.keyed_client()
    return client, lookout.create_project(client, "org-a")["id"]


def _list(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/sequences", params={"source": "pyronear", **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_headings_and_label_are_stored_and_rendered(world: tuple[httpx.Client, str]) -> None:
    client, project = world
    created = _create(
        client,
        project,
        "s-2026",
        camera_azimuth=200.0,
        smoke_azimuth=215.5,
        platform_score=0.7,
        source_label="other_smoke",
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["azimuth"], item["camera_azimuth"], item["smoke_azimuth"]) == (200, 200, 215.5)
    assert (item["platform_score"], item["platform_label"]) == (0.7, "other_smoke")
    # An older client's `azimuth` is the camera's heading; a 2025 "True" is wildfire smoke.
    old = _create(client, project, "s-2025", azimuth=90.0, source_label="True").json()
    assert (old["camera_azimuth"], old["smoke_azimuth"], old["platform_label"]) == (
        90,
        None,
        "wildfire_smoke",
    )
    listed = {i["source_id"]: i for i in _list(client)}
    assert listed["s-2026"]["smoke_azimuth"] == 215.5
    assert listed["s-2025"]["platform_label"] == "wildfire_smoke"


def test_a_reimport_updates_score_and_label(world: tuple[httpx.Client, str]) -> None:
    client, project = world
    _create(client, project, "s", camera_azimuth=10.0, platform_score=0.2)
    again = _create(
        client, project, "s", camera_azimuth=10.0, platform_score=0.9, source_label="other"
    )
    assert again.status_code == 200, again.text
    assert (again.json()["platform_score"], again.json()["platform_label"]) == (0.9, "other")


def test_filters_and_order_by_score_and_label(world: tuple[httpx.Client, str]) -> None:
    client, project = world
    for name, score, label in (
        ("a", 0.3, "True"),
        ("b", 0.9, "False"),
        ("c", None, None),
        ("d", 0.6, "wildfire_smoke"),
    ):
        made = _create(client, project, name, platform_score=score, source_label=label)
        assert made.status_code == 201, made.text
    by_score = [i["source_id"] for i in _list(client, order="score")]
    assert by_score == ["b", "d", "a", "c"]  # unscored last
    assert {i["source_id"] for i in _list(client, min_platform_score=0.6)} == {"b", "d"}
    wildfire = {i["source_id"] for i in _list(client, platform_label="wildfire_smoke")}
    assert wildfire == {"a", "d"}
    assert [i["source_id"] for i in _list(client, platform_label="other")] == ["b"]
    assert [i["source_id"] for i in _list(client, platform_label="none")] == ["c"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"min_platform_score": 2}, "min_platform_score"),
        ({"min_platform_score": "high"}, "min_platform_score"),
        ({"platform_label": "fire"}, "platform_label"),
        ({"order": "label"}, "order"),
    ],
)
def test_bad_filter_values_name_the_parameter(
    world: tuple[httpx.Client, str], params: dict[str, Any], name: str
) -> None:
    client, _ = world
    response = client.get("/api/sequences", params=params)
    assert response.status_code == 422, response.text
    assert name in response.text


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"azimuth": 10.0, "camera_azimuth": 20.0}, "camera_azimuth"),
        ({"smoke_azimuth": 400}, "smoke_azimuth"),
        ({"platform_score": 1.5}, "platform_score"),
    ],
)
def test_bad_fields_name_the_field(
    world: tuple[httpx.Client, str], fields: dict[str, Any], name: str
) -> None:
    client, project = world
    response = _create(client, project, "bad", **fields)
    assert 400 <= response.status_code < 500, response.text
    assert name in response.text
