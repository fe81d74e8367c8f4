"""No object without its row when storage fails mid-write: noted, then swept once it answers.

Lookout talks to a real S3 server (moto) through a TCP proxy that can drop the answers of
writes that did happen, or cut the connection altogether.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlalchemy as sa

from lookout import stored_objects
from lookout.storage import cleanup
from lookout.storage.models import LeftoverObject
from tests.support import LiveServer, Lookout, TcpProxy, jpeg_bytes


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(s3_endpoint).start()
    yield proxy
    proxy.close()


@pytest.fixture
def bucket(request: pytest.FixtureRequest) -> str:
    return f"leftovers-{abs(hash(request.node.nodeid)) % 10**8}"


@pytest.fixture
def instance(lookout_factory, proxy: TcpProxy, bucket: str) -> Lookout:
    return lookout_factory(
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=proxy.url,
        S3_BUCKET=bucket,
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
        S3_CREATE_BUCKET=True,
    )


def stored_keys(s3_endpoint: str, bucket: str) -> set[str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    return {obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def noted(instance: Lookout) -> set[str]:
    with instance.sessions() as session:
        return set(session.scalars(sa.select(LeftoverObject.object_key)))


def image_keys(instance: Lookout) -> set[str]:
    with instance.sessions() as session:
        return set(session.scalars(sa.text("SELECT object_key FROM images")))


def test_an_upload_whose_answer_is_lost_leaves_no_object_for_long(
    instance: Lookout, proxy: TcpProxy, s3_endpoint: str, bucket: str
) -> None:
    client = instance.keyed_client()
    project_id = instance.create_project(client)["id"]
    assert instance.upload(client, project_id, jpeg_bytes(40, 30)).status_code == 201

    proxy.mute()  # S3 stores the object, Lookout never hears so
    response = instance.upload(client, project_id, jpeg_bytes(50, 30))
    assert response.status_code == 503, response.text
    assert "storage" in response.json()["detail"]
    assert instance.count("images") == 1
    orphans = stored_keys(s3_endpoint, bucket) - image_keys(instance)
    assert orphans, "the muted write should have reached S3"
    assert orphans <= noted(instance)

    proxy.restore()
    assert instance.upload(client, project_id, jpeg_bytes(60, 30)).status_code == 201
    assert stored_keys(s3_endpoint, bucket) == image_keys(instance)
    assert noted(instance) == set()


def test_a_delete_while_storage_is_down_is_finished_later(
    instance: Lookout, proxy: TcpProxy, s3_endpoint: str, bucket: str
) -> None:
    client = instance.keyed_client(admin=True)  # purges at once
    project_id = instance.create_project(client)["id"]
    doomed = instance.upload(client, project_id, jpeg_bytes(40, 30)).json()
    key = image_keys(instance).pop()

    proxy.cut()
    purge = client.request("DELETE", f"/api/images/{doomed['id']}", json={"force": True})
    assert purge.status_code == 204, purge.text
    assert instance.count("images") == 0
    assert stored_keys(s3_endpoint, bucket) == {key}
    assert noted(instance) == {key}

    proxy.restore()
    assert instance.upload(client, project_id, jpeg_bytes(50, 30)).status_code == 201
    assert stored_keys(s3_endpoint, bucket) == image_keys(instance)
    assert key not in stored_keys(s3_endpoint, bucket)
    assert noted(instance) == set()


def test_a_noted_key_a_row_holds_again_is_kept(
    instance: Lookout, s3_endpoint: str, bucket: str
) -> None:
    """A thumbnail noted after a failed write, then made again under its key, stays."""
    client = instance.keyed_client()
    project_id = instance.create_project(client)["id"]
    image = instance.upload(client, project_id, jpeg_bytes(300, 200)).json()
    assert client.get(image["thumbnail_url"]).status_code == 200
    with instance.sessions() as session:
        thumbnail = session.scalar(sa.text("SELECT thumbnail_key FROM images"))
        storage = instance.server.app.state.runtime.storage
        cleanup.note_leftover(session, storage, thumbnail, "thumbnail upload failed")
        assert cleanup.sweep_if_due(session, storage, stored_objects.keys_in_use) == 0
    assert thumbnail in stored_keys(s3_endpoint, bucket)
    assert noted(instance) == set()


def _frames_batch(client: Any, project_id: str, url: str, numbers: list[int]) -> Any:
    """A frames batch of a sequence, its frames fetched from `url` + /f/<number>."""
    sequence = client.post(
        "/api/sequences",
        json={
            "project_id": project_id,
            "source": "pyronear",
            "source_id": "s1",
            "started_at": "2024-01-01T10:00:00Z",
            "last_seen_at": "2024-01-01T10:05:00Z",
        },
    ).json()
    frames = [
        {
            "url": f"{url}/f/{i}",
            "source": "pyronear",
            "source_id": f"d{i}",
            "captured_at": "2024-01-01T10:00:00Z",
            "predictions": {"annotations": []},
        }
        for i in numbers
    ]
    return client.post(f"/api/sequences/{sequence['id']}/frames:batch", json={"frames": frames})


def test_a_frames_batch_writes_each_object_as_it_arrives(
    instance: Lookout, proxy: TcpProxy, s3_endpoint: str, bucket: str
) -> None:
    """A batch writes each frame's object while the next frame downloads (before the rows'
    transaction): the first object is in S3 before the last frame is answered. With storage
    answering, every object has its row; with the answers lost, every frame answers 503, no
    row is stored, and the objects S3 kept are noted, then swept once it answers."""
    import time

    from fastapi import FastAPI
    from fastapi.responses import Response

    source = FastAPI()
    seen_before_last: list[bool] = []

    @source.get("/f/{n}")
    def frame(n: int) -> Response:
        if n == 3:  # the last frame of the stored batch waits for the first one's object
            deadline = time.monotonic() + 5
            while not stored_keys(s3_endpoint, bucket) and time.monotonic() < deadline:
                time.sleep(0.05)
            seen_before_last.append(bool(stored_keys(s3_endpoint, bucket)))
        return Response(jpeg_bytes(40 + n, 30), media_type="image/jpeg")

    server = LiveServer(source).start()
    client = instance.keyed_client()
    project_id = instance.create_project(client)["id"]
    try:
        proxy.mute()
        lost = _frames_batch(client, project_id, server.url, [10, 11])
        assert noted(instance)  # before the sweep of the next write
        proxy.restore()
        with instance.sessions() as session:
            session.execute(sa.delete(LeftoverObject))  # so S3 holds nothing before the batch
            session.commit()
        for key in stored_keys(s3_endpoint, bucket):
            boto3.client(
                "s3",
                endpoint_url=s3_endpoint,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                region_name="us-east-1",
            ).delete_object(Bucket=bucket, Key=key)
        stored = _frames_batch(client, project_id, server.url, [0, 1, 2, 3])
    finally:
        server.stop()
    assert [f["status"] for f in lost.json()["frames"]] == [503, 503]
    assert [f["status"] for f in stored.json()["frames"]] == [201, 201, 201, 201]
    assert seen_before_last == [True]
    assert instance.count("images") == 4
    assert stored_keys(s3_endpoint, bucket) == image_keys(instance)
    assert noted(instance) == set()
