"""Hot reads run statements built once per kind of access: nothing of one caller is kept in
them, and they refuse to run without the caller's group ids."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses.repository import AnalysisRepository, _analysis_by_id
from lookout.auth.principal import Principal
from lookout.db import make_engine
from lookout.errors import NotFound
from lookout.images.repository import ImageRepository, _image_by_id
from lookout.sequences.repository import SequenceRepository, sequence_by_id

TEMPLATES = {
    "image": (_image_by_id, ("groups", False)),
    "analysis": (_analysis_by_id, ("groups",)),
    "sequence": (sequence_by_id, ("groups", False)),
}


@pytest.fixture
def session(tmp_path: Path, sqlite_template: Path) -> Session:
    target = tmp_path / "lookout.db"
    target.write_bytes(sqlite_template.read_bytes())
    return Session(make_engine(f"sqlite:///{target}"))


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_template_without_the_callers_groups_does_not_run(session: Session, name: str) -> None:
    build, kind = TEMPLATES[name]
    statement = build(*kind)
    with pytest.raises(sa.exc.StatementError, match="scope_group_ids"):
        session.execute(statement, {f"{name}_id": uuid.uuid4()})


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_template_holds_no_group_id(name: str) -> None:
    build, kind = TEMPLATES[name]
    statement = build(*kind)
    assert all(p.value is None for p in statement.compile().binds.values()), name


def test_one_cached_statement_answers_each_caller_with_their_own_groups(session: Session) -> None:
    """Two callers in turn: the second does not see what the first could."""
    from lookout.accounts.models import Group
    from lookout.images.models import Image
    from lookout.projects.models import Project

    mine, theirs = Group(name="mine"), Group(name="theirs")
    session.add_all([mine, theirs])
    session.flush()
    project = Project(name="p", group_id=mine.id)
    session.add(project)
    session.flush()
    image = Image(
        project_id=project.id,
        object_key="k",
        filename="f.jpg",
        content_type="image/jpeg",
        size_bytes=1,
        width=1,
        height=1,
        sha256="0" * 64,
    )
    session.add(image)
    session.commit()
    member = Principal(user_id=uuid.uuid4(), email="a@x.org", group_ids=frozenset({mine.id}))
    outsider = Principal(user_id=uuid.uuid4(), email="b@x.org", group_ids=frozenset({theirs.id}))
    assert ImageRepository(session, member).get(image.id).id == image.id
    with pytest.raises(NotFound):
        ImageRepository(session, outsider).get(image.id)
    with pytest.raises(NotFound):
        AnalysisRepository(session, outsider).get(uuid.uuid4())
    with pytest.raises(NotFound):
        SequenceRepository(session, outsider).get(uuid.uuid4())
