"""Free-form metadata on images and projects: VISTA's upload field and per-key routes, search
in the API, and refusals naming the field (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.exports.builders import distinct_jpeg
from tests.support import Lookout, jpeg_bytes


def _setup(lookout: Lookout) -> tuple[httpx.Client, str]:
    client = lookout.keyed_client()
    return client, lookout.create_project(client, "meta")["id"]


def _upload(lookout: Lookout, client: httpx.Client, project_id: str, **form: Any) -> dict:
    response = lookout.upload(client, project_id, distinct_jpeg(), **form)
    assert response.status_code == 201, response.text
    return response.json()


def _ids(client: httpx.Client, project_id: str, **params: Any) -> list[str]:
    response = client.get(f"/api/projects/{project_id}/images", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return [image["id"] for image in (body if isinstance(body, list) else body["items"])]


def test_upload_metadata_then_change_keys_as_vista_does(lookout: Lookout) -> None:
    client, project_id = _setup(lookout)
    metadata = {"site": "North ridge", "lens": 35, "ir": True, "note": None, "gain": 1.5}
    image = _upload(lookout, client, project_id, metadata=json.dumps(metadata))
    assert image["metadata"] == metadata
    path = f"/api/images/{image['id']}"
    assert client.get(path).json()["metadata"] == metadata

    put = client.put(f"{path}/metadata", json={"key": "site", "value": "Valley"})
    assert put.status_code == 200, put.text
    assert put.json()["metadata"]["site"] == "Valley"
    patched = client.patch(f"{path}/metadata", json={"weather": "fog", "lens": 50})
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"] == {
        **metadata,
        "site": "Valley",
        "weather": "fog",
        "lens": 50,
    }
    deleted = client.delete(f"{path}/metadata/weather")
    assert deleted.status_code == 200 and "weather" not in deleted.json()["metadata"]
    again = client.delete(f"{path}/metadata/weather")  # VISTA: a missing key is no error
    assert again.status_code == 200
    # Pages of the gallery carry it too, whichever way they are built.
    listed = client.get(f"/api/projects/{project_id}/images").json()["items"]
    assert listed[0]["metadata"] == deleted.json()["metadata"]
    assert (
        client.get(f"/api/projects/{project_id}/images", params={"skip": 0}).json()[0]["metadata"]
        == deleted.json()["metadata"]
    )
    # The aliases serve the same routes.
    alias = client.put(f"/api-key/images/{image['id']}/metadata", json={"key": "k", "value": 1})
    assert alias.status_code == 200 and alias.json()["metadata"]["k"] == 1


def test_an_image_without_metadata_has_an_empty_object(lookout: Lookout) -> None:
    client, project_id = _setup(lookout)
    image = _upload(lookout, client, project_id)
    assert image["metadata"] == {}
    assert _upload(lookout, client, project_id, metadata="")["metadata"] == {}


def test_bad_metadata_is_refused_naming_the_field(lookout: Lookout) -> None:
    client, project_id = _setup(lookout)
    image = _upload(lookout, client, project_id)
    path = f"/api/images/{image['id']}/metadata"
    uploads = {
        "not json": "metadata",
        "[1, 2]": "metadata",
        '{"a": {"b": 1}}': "metadata.a",
        '{"a": [1]}': "metadata.a",
        '{"": 1}': "metadata",
        '{"a": "\\ud800"}': "metadata.a",
        '{"\\ud800": 1}': "metadata",
        '{"a": "\\u0000"}': "metadata.a",
        '{"a": 1e999}': "metadata.a",
        json.dumps({"a": "x" * 2001}): "metadata.a",
        json.dumps({f"k{i}": i for i in range(101)}): "metadata",
        json.dumps({"k" * 201: 1}): "metadata",
        json.dumps({"a": 2**70}): "metadata.a",
    }
    for text, field in uploads.items():
        response = lookout.upload(client, project_id, jpeg_bytes(20, 20), metadata=text)
        assert response.status_code == 400, (text, response.text)
        assert response.json()["field"] == field, (text, response.json())
    bodies: list[tuple[Any, str]] = [
        ({"value": 1}, "key"),
        ({"key": "", "value": 1}, "key"),
        ({"key": 5, "value": 1}, "key"),
        ({"key": "a", "value": {"x": 1}}, "value"),
        ({"key": "a", "value": "y" * 5000}, "value"),
        ({"key": "a", "value": 1, "extra": 2}, "extra"),
        ({"key": "a\nb", "value": 1}, "key"),
        ([1, 2], "body"),
    ]
    for body, field in bodies:
        response = client.put(path, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["field"] == field, (body, response.json())
    surrogate = client.put(
        path,
        content=b'{"key": "a", "value": "\\udc00"}',
        headers={"Content-Type": "application/json"},
    )
    assert surrogate.status_code == 400 and surrogate.json()["field"] == "value"
    big = client.patch(path, json={f"k{i}": "v" * 1000 for i in range(20)})
    assert big.status_code == 400 and big.json()["field"] == "metadata"
    assert client.get(f"/api/images/{image['id']}").json()["metadata"] == {}


def test_search_by_file_name_and_metadata(lookout: Lookout) -> None:
    client, project_id = _setup(lookout)
    north = _upload(
        lookout, client, project_id, metadata=json.dumps({"site": "North_Ridge", "ir": True})
    )
    valley = _upload(lookout, client, project_id, metadata=json.dumps({"site": "valley 50%"}))
    plain = _upload(lookout, client, project_id)
    client.patch(f"/api/images/{plain['id']}/metadata", json={"camera": "north-cam"})
    bare = _upload(lookout, client, project_id)  # no metadata at all
    emptied = _upload(lookout, client, project_id, metadata=json.dumps({"gone": 1}))
    client.delete(f"/api/images/{emptied['id']}/metadata/gone")

    def search(field: str, value: str, **extra: Any) -> set[str]:
        return set(_ids(client, project_id, search_field=field, search_value=value, **extra))

    assert search("site", "north") == {north["id"]}
    assert search("metadata.site", "RIDGE") == {north["id"]}
    assert search("site", "_") == {north["id"]}  # wildcards are literal
    assert search("site", "50%") == {valley["id"]}
    assert search("metadata", "north") == {north["id"], plain["id"]}
    assert search("metadata", "camera") == {plain["id"]}  # keys count too
    assert search("ir", "true") == {north["id"]}  # the same on both databases
    assert search("filename", "FRAME") == {
        north["id"],
        valley["id"],
        plain["id"],
        bare["id"],
        emptied["id"],
    }
    assert search("content_type", "png") == set()
    assert search("site", "north", skip=0) == {north["id"]}  # VISTA's paging too
    assert search("site", "nothing") == set()
    for params, field in (
        ({"search_field": "site"}, "search_value"),
        ({"search_value": "x"}, "search_value"),
        ({"search_field": "site", "search_value": "x" * 201}, "search_value"),
        ({"search_field": "s\x01", "search_value": "x"}, "search_field"),
    ):
        response = client.get(f"/api/projects/{project_id}/images", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["field"] == field


def test_project_metadata_as_vista_serves_it(lookout: Lookout) -> None:
    client, project_id = _setup(lookout)
    base = f"/api/projects/{project_id}"
    created = client.post(f"{base}/metadata", json={"key": "owner", "value": "fire team"})
    assert created.status_code == 201, created.text
    entry = created.json()
    assert (entry["key"], entry["value"], entry["project_id"]) == ("owner", "fire team", project_id)
    replaced = client.post(f"{base}/metadata", json={"key": "owner", "value": "ops"})
    assert replaced.status_code == 201 and replaced.json()["id"] == entry["id"]
    put = client.put(f"{base}/metadata/season", json={"key": "season", "value": 2024})
    assert put.status_code == 200 and put.json()["value"] == 2024
    assert client.put(f"{base}/metadata/season", json={"value": 2025}).json()["value"] == 2025
    mismatch = client.put(f"{base}/metadata/season", json={"key": "other", "value": 1})
    assert mismatch.status_code == 400 and mismatch.json()["field"] == "key"
    assert [e["key"] for e in client.get(f"{base}/metadata").json()] == ["owner", "season"]
    assert client.get(f"{base}/metadata/owner").json()["value"] == "ops"
    assert client.get(f"{base}/metadata-dict").json() == {"owner": "ops", "season": 2025}
    merged = client.put(f"{base}/metadata-dict", json={"region": "south", "season": None})
    assert merged.json() == {"owner": "ops", "region": "south", "season": None}
    assert client.delete(f"{base}/metadata/region").status_code == 204
    missing = client.get(f"{base}/metadata/region")
    assert missing.status_code == 404 and missing.json()["field"] == "key"
    assert client.delete(f"{base}/metadata/region").status_code == 404
    bad = client.put(f"{base}/metadata-dict", json={"a": [1]})
    assert bad.status_code == 400 and bad.json()["field"] == "metadata.a"
    bad = client.post(f"{base}/metadata", json={"key": "x" * 201, "value": 1})
    assert bad.status_code == 400 and bad.json()["field"] == "key"


def test_another_groups_metadata_is_invisible(lookout: Lookout) -> None:
    client, project_id = _setup(lookout)
    image = _upload(lookout, client, project_id, metadata=json.dumps({"secret": "s3cr3t"}))
    client.post(f"/api/projects/{project_id}/metadata", json={"key": "owner", "value": "s3cr3t"})
    other = lookout.keyed_client("mallory@example.org", "others")
    own = lookout.create_project(other, "mine")["id"]
    requests = [
        other.get(f"/api/projects/{project_id}/metadata"),
        other.get(f"/api/projects/{project_id}/metadata/owner"),
        other.get(f"/api/projects/{project_id}/metadata-dict"),
        other.post(f"/api/projects/{project_id}/metadata", json={"key": "a", "value": 1}),
        other.put(f"/api/projects/{project_id}/metadata/owner", json={"value": 1}),
        other.put(f"/api/projects/{project_id}/metadata-dict", json={"a": 1}),
        other.delete(f"/api/projects/{project_id}/metadata/owner"),
        other.put(f"/api/images/{image['id']}/metadata", json={"key": "a", "value": 1}),
        other.patch(f"/api/images/{image['id']}/metadata", json={"a": 1}),
        other.delete(f"/api/images/{image['id']}/metadata/secret"),
    ]
    for response in requests:
        assert response.status_code == 404, (response.request.url, response.text)
        assert "s3cr3t" not in response.text
    # Searching its own project for the owners' values finds nothing of theirs.
    found = other.get(
        f"/api/projects/{own}/images", params={"search_field": "secret", "search_value": "s3"}
    )
    assert found.status_code == 200 and found.json()["items"] == []
    assert client.get(f"/api/images/{image['id']}").json()["metadata"] == {"secret": "s3cr3t"}
    assert client.get(f"/api/projects/{project_id}/metadata-dict").json() == {"owner": "s3cr3t"}
