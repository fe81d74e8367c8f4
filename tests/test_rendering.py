"""Each resource's JSON is defined once, by its response model: the fast renderer, the JSON
PostgreSQL builds for pages, and pydantic's own rendering agree field for field."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from lookout.analyses.models import Prediction
from lookout.analyses.schemas import PREDICTION_JSON, PredictionRead, bbox_xyxyn
from lookout.images.models import Image
from lookout.images.schemas import IMAGE_JSON, ImageRead
from lookout.rendering import RenderedCache, SchemaRenderer, encode_json, render_json
from tests.analyses.ml_support import box, make_setup


def _pydantic(model: type[BaseModel], orm: object, **computed: object) -> dict:
    """What pydantic itself renders for the row: attributes of the fields' names, plus the
    computed ones."""
    values = {n: getattr(orm, n) for n in model.model_fields if n not in computed}
    return model.model_validate({**values, **computed}).model_dump(mode="json")


def test_the_renderer_follows_the_model_and_refuses_unknown_fields():
    class Thing(BaseModel):
        id: uuid.UUID
        at: datetime | None
        name: str
        size: float | None

    render = SchemaRenderer(Thing)
    row = Thing(
        id=uuid.uuid4(), at=datetime(2024, 5, 1, 10, 0, 0, 5, tzinfo=UTC), name="x", size=None
    )
    assert render(row) == row.model_dump(mode="json")
    assert list(render(row)) == list(Thing.model_fields)
    with pytest.raises(ValueError, match="no fields"):
        SchemaRenderer(Thing, computed={"nope": lambda _: 1})


def test_every_image_field_is_rendered_alike_everywhere(lookout):
    setup = make_setup(lookout)
    sequence = setup.client.post(
        "/api/sequences",
        json={
            "project_id": setup.project_id,
            "source": "pyronear",
            "source_id": "s1",
            "started_at": "2024-06-01T10:00:00Z",
        },
    ).json()
    full = lookout.upload(
        setup.client,
        setup.project_id,
        filename="cam 1.jpg",
        source="pyronear",
        source_id="d1",
        captured_at="2024-06-01T10:00:30.250000Z",
        sequence_id=sequence["id"],
        metadata=json.dumps({"site": "north", "lens": 35, "ir": True, "note": None}),
    )
    assert full.status_code == 201, full.text
    page = setup.client.get(f"/api/projects/{setup.project_id}/images").json()["items"]
    with lookout.sessions() as session:
        rows = {str(i.id): i for i in session.scalars(sa.select(Image))}
    assert len(page) == 2
    for item in page:  # on PostgreSQL, JSON the database built
        orm = rows[item["id"]]
        expected = _pydantic(
            ImageRead,
            orm,
            content_url=f"/api/images/{orm.id}/content",
            thumbnail_url=f"/api/images/{orm.id}/thumbnail",
            existing=False,
            metadata=orm.metadata_json or {},  # the column is `metadata_json` (VISTA's name)
        )
        assert ImageRead.of(orm).model_dump(mode="json") == expected
        assert item == expected
        assert IMAGE_JSON(orm) == expected
        assert setup.client.get(f"/api/images/{item['id']}").json() == expected
    assert any(item["sequence_id"] and item["captured_at"] for item in page)
    assert any(item["sequence_id"] is None for item in page)
    assert {"site": "north", "lens": 35, "ir": True, "note": None} in [i["metadata"] for i in page]
    assert {} in [item["metadata"] for item in page]


def test_every_prediction_field_is_rendered_alike_everywhere(lookout):
    setup = make_setup(lookout)
    analysis = setup.create_analysis()
    annotations = [
        box(client_id="a"),
        box(10, 20, 30, 40, class_name="smoke", confidence=0.5),
        {"annotation_type": "classification", "class_name": "fire", "confidence": 0.9, "data": {}},
    ]
    body = json.dumps({"annotations": annotations})
    posted = setup.raw_signed(
        "POST", f"/api/analyses/{analysis['id']}/annotations:bulk", body.encode()
    )
    assert posted.status_code in (200, 201), posted.text
    detail = setup.client.get(f"/api/analyses/{analysis['id']}").json()
    listed = setup.client.get(f"/api/analyses/{analysis['id']}/annotations").json()["items"]
    with lookout.sessions() as session:
        rows = {str(p.id): p for p in session.scalars(sa.select(Prediction))}
    assert len(detail["annotations"]) == len(listed) == 3
    for item in [*detail["annotations"], *listed]:
        orm = rows[item["id"]]
        expected = _pydantic(PredictionRead, orm, bbox_xyxyn=bbox_xyxyn(orm))
        assert item == expected
        assert PREDICTION_JSON(orm) == expected
    assert any(item["bbox_xyxyn"] is None for item in listed)


def test_a_smaller_cache_drops_the_least_recently_used_first():
    cache = RenderedCache(max_bytes=1000)
    for key in "abcde":
        cache.put(key, 1, b"x" * 50)
    assert cache.get("a", 1) == b"x" * 50  # a is now the most recently used
    cache.resize(240)  # 250 bytes held: b, the least recently used, goes
    assert cache.get("b", 1) is None
    assert all(cache.get(key, 1) is not None for key in "cdea")
    cache.put("f", 1, b"y" * 50)  # beyond 240 again: c goes
    assert cache.get("c", 1) is None and cache.get("f", 1) == b"y" * 50


def test_the_app_sizes_the_caches_from_the_setting(tmp_path):
    from lookout.analyses.predictions import PAGE_CACHE
    from lookout.app import create_app
    from lookout.config import Settings
    from lookout.images.service import IMAGE_PAGES

    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'lookout.db'}",
        LOOKOUT_DATA_DIR=tmp_path / "data",
        LOOKOUT_RENDER_CACHE_MB=8,
        _env_file=None,
    )
    try:
        create_app(settings)
        assert PAGE_CACHE.max_bytes == 6 * 1024 * 1024
        assert IMAGE_PAGES.max_bytes == 2 * 1024 * 1024
    finally:
        create_app(settings.model_copy(update={"render_cache_mb": 32}))
    assert PAGE_CACHE.max_bytes + IMAGE_PAGES.max_bytes == 32 * 1024 * 1024


def test_a_negative_cache_size_is_refused_naming_the_setting(tmp_path):
    from pydantic import ValidationError

    from lookout.config import Settings

    with pytest.raises(ValidationError, match="LOOKOUT_RENDER_CACHE_MB"):
        Settings(LOOKOUT_RENDER_CACHE_MB=-1, _env_file=None)


def test_batch_json_reads_back_as_the_standard_renderers_and_takes_any_integer():
    ident = uuid.uuid4()
    value = {
        "id": ident,
        "boxes": [[0.1, 1e-7, 2.5e16, -3], {"name": "fumée ✓", "none": None, "ok": True}],
    }
    encoded = encode_json(value)
    expected = {**value, "id": str(ident)}
    assert json.loads(encoded) == json.loads(render_json(expected)) == expected
    # Integers over 64 bits, which orjson refuses, go through the standard library.
    big = {"id": ident, "n": 2**70, "list": [2**64]}
    assert json.loads(encode_json(big)) == {"id": str(ident), "n": 2**70, "list": [2**64]}
    with pytest.raises(TypeError, match="object is not JSON"):
        encode_json({"n": 2**70, "thing": object()})
