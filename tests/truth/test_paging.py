"""Reading truth a page at a time gives exactly what one page gives: no frame lost or repeated
at a page boundary, for sequences and for images outside sequences."""

from __future__ import annotations

import uuid

from lookout.truth import reading
from lookout.truth.reading import iter_groups, resolve_model, scope_for
from lookout.truth.selection import make_selection
from tests.exports.builders import standard_world
from tests.support import jpeg_bytes


def _groups(lookout, scope, page: int) -> list[list[tuple[str, int | None]]]:
    with lookout.sessions() as session:
        return [
            [(str(frame.image.id), frame.index) for frame in group]
            for group in iter_groups(session, scope, page=page)
        ]


def test_sequences_read_in_pages_of_one_equal_one_page(lookout):
    world = standard_world(lookout)
    scope = scope_for(make_selection(project_id=uuid.UUID(world.project_id)), None)
    whole = _groups(lookout, scope, page=100)
    assert len(whole) == 3  # the three annotated sequences
    assert _groups(lookout, scope, page=1) == whole
    assert _groups(lookout, scope, page=2) == whole


def test_loose_images_read_in_pages_of_one_equal_one_page(lookout, monkeypatch):
    world = standard_world(lookout)
    for index in range(5):
        uploaded = lookout.upload(world.client, world.project_id, jpeg_bytes(color=(index, 9, 9)))
        assert uploaded.status_code == 201, uploaded.text
        world.predict(uploaded.json()["id"], [("smoke", [0.1, 0.1, 0.3, 0.3], 0.9)], model="det")
    project_id = uuid.UUID(world.project_id)
    selection = make_selection(project_id=project_id, source="model:det")
    with lookout.sessions() as session:
        model = resolve_model(session, project_id=project_id, model=selection.model)
    scope = scope_for(selection, model)
    whole = _groups(lookout, scope, page=100)
    assert sum(1 for group in whole if group[0][1] is None) == 5  # the loose images, one a group
    monkeypatch.setattr(reading, "IMAGE_PAGE", 2)
    assert _groups(lookout, scope, page=1) == whole
