"""Group numbers, on SQLite and PostgreSQL: each group of recurring objects has a number in its
project (1, 2, 3... in creation order, never given twice), in the API, on pages and in the
CLI; migration 0016 numbers the groups that were there before it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command

from lookout.db import JSONType, UTCDateTime, make_engine
from lookout.migrate import alembic_config, upgrade
from tests.exports.builders import World
from tests.exports.test_cli_commands import run
from tests.grouping.conftest import ANTENNA, CHIMNEY, Camera, new_camera
from tests.test_migrations import _table, empty_database_url  # noqa: F401 (fixture)

ROAD = [0.30, 0.80, 0.45, 0.90]


def _numbers(camera: Camera, **params: Any) -> dict[int, list[float]]:
    """The project's groups by number: their boxes."""
    return {g["number"]: g["box"] for g in camera.groups(**params)}


def test_groups_are_numbered_per_project_in_creation_order(camera: Camera) -> None:
    camera.sequence("antenna", 1, [ANTENNA])
    camera.sequence("chimney", 2, [CHIMNEY])
    camera.sequence("antenna-again", 3, [ANTENNA])  # joins group 1: no new number
    other = Camera(camera.world, new_camera(camera.world, "cam-far"))
    other.sequence("far-antenna", 3, [ANTENNA])

    numbers = _numbers(camera)
    assert sorted(numbers) == [1, 2, 3]
    assert numbers[1][0] > 0.5 > numbers[2][0]  # the antenna came first, then the chimney
    by_number = {g["number"]: g for g in camera.groups()}
    assert by_number[1]["member_count"] == 2 and by_number[1]["camera_id"] == camera.camera_id
    assert by_number[3]["camera_id"] == other.camera_id
    assert camera.group(by_number[2]["id"])["number"] == 2

    # Another project counts from 1.
    project = camera.world.lookout.create_project(camera.client, "valley")
    made = camera.client.post(
        "/api/cameras",
        json={"project_id": project["id"], "source": "test", "source_id": "v", "name": "Valley"},
    )
    assert made.status_code == 201, made.text
    world = World(camera.world.lookout, camera.client, project, camera.world.email)
    elsewhere = Camera(world, made.json()["id"])
    elsewhere.sequence("valley-antenna", 1, [ANTENNA])
    assert sorted(_numbers(elsewhere)) == [1]
    assert sorted(_numbers(camera)) == [1, 2, 3]

    # A number is never given again: the chimney's group goes with its only member, and the
    # next new group takes 4, not 2.
    chimney = camera.group(by_number[2]["id"])
    removed = camera.client.delete(
        f"/api/groups/{chimney['id']}/members/{chimney['members'][0]['id']}"
    )
    assert removed.status_code == 204, removed.text
    assert sorted(_numbers(camera)) == [1, 3]
    camera.sequence("road", 4, [ROAD])
    assert sorted(_numbers(camera)) == [1, 3, 4]
    assert _numbers(camera)[4][1] > 0.7

    # The listing finds a group by its number; a decision answers with it.
    found = camera.groups(number=3)
    assert [g["id"] for g in found] == [by_number[3]["id"]]
    assert camera.groups(number=2) == []
    decided = camera.decide(by_number[1]["id"], decision="smoke", smoke_type="industrial")
    assert decided["group"]["number"] == 1


def test_a_sequence_starting_several_groups_numbers_them_in_track_order(camera: Camera) -> None:
    camera.sequence("antenna", 1, [ANTENNA])  # group 1
    review = camera.sequence("three-places", 2, [ANTENNA, CHIMNEY, ROAD])
    tracks = review["tracks"]
    assert len(tracks) == 3
    groups = {g["id"]: g for g in camera.groups()}
    assert len(groups) == 3  # the antenna joined group 1; two groups started, not three
    numbers = [groups[t["group_id"]]["number"] for t in tracks]
    started = [n for n in numbers if n != 1]
    assert sorted(numbers) == [1, 2, 3] and started == [2, 3]  # in track order
    for index, track in enumerate(tracks):
        members = camera.group(track["group_id"])["members"]
        mine = [m for m in members if m["track_index"] == index]
        assert len(mine) == 1, members
        box = mine[0]["box"]
        assert box == groups[track["group_id"]]["box"] or numbers[index] == 1
    # The next group counts on from the two started at once.
    camera.sequence("elsewhere", 3, [[0.80, 0.80, 0.90, 0.95]])
    assert sorted(_numbers(camera)) == [1, 2, 3, 4]


def test_a_bad_group_number_is_refused_naming_the_field(camera: Camera) -> None:
    camera.sequence("antenna", 1, [ANTENNA])
    for value in ("0", "-3", "two", "1.5", str(2**31)):
        response = camera.client.get(
            "/api/groups", params={"project_id": camera.world.project_id, "number": value}
        )
        assert response.status_code == 422, (value, response.text)
        assert response.json()["detail"][0]["loc"][-1] == "number", response.text


def test_pages_and_the_cli_show_group_numbers(camera: Camera) -> None:
    camera.sequence("antenna", 1, [ANTENNA])
    camera.sequence("chimney", 2, [CHIMNEY])
    camera.sequence("chimney-again", 3, [CHIMNEY])
    chimney = next(g for g in camera.groups() if g["number"] == 2)
    client = camera.client

    listing = client.get("/groups", params={"min_members": "1"})
    assert listing.status_code == 200
    assert f'href="/groups/{chimney["id"]}">Group 2</a>' in listing.text
    assert ">Group 1</a>" in listing.text and chimney["id"][:8] + "<" not in listing.text
    page = client.get(f"/groups/{chimney['id']}")
    assert "<title>Group 2 ·" in page.text and "<h1>Ridge ridge: Group 2</h1>" in page.text
    review = client.get(f"/sequences/{camera.sequences['chimney-again']}")
    assert "track 1 in Group 2 (2 sequences;" in review.text

    lookout = camera.world.lookout
    user = ("--user", "gina@example.org")
    table = run(lookout, "sequence-groups", "list", "--project", "ridge", *user)
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if "Group " in line]
    assert len(rows) == 2 and chimney["id"] in next(r for r in rows if "Group 2" in r)
    listed = run(lookout, "sequence-groups", "list", "--project", "ridge", "--json", *user)
    assert {g["number"] for g in json.loads(listed.stdout)["items"]} == {1, 2}

    for named in (["2", "--project", "ridge"], ["Group 2", "--project", "ridge"], [chimney["id"]]):
        shown = run(lookout, "sequence-groups", "show", *named, *user)
        assert shown.returncode == 0, (named, shown.stderr)
        assert f"Group 2 ({chimney['id']})" in shown.stdout and "2 sequence(s)" in shown.stdout
    decided = run(
        lookout,
        "sequence-groups",
        "decide",
        "2",
        "--project",
        "ridge",
        "--decision",
        "false_positive",
        "--fp-type",
        "building",
        *user,
    )
    assert decided.returncode == 0, decided.stderr
    assert f"Group 2 ({chimney['id']}): false positive (building)" in decided.stdout
    assert camera.group(chimney["id"])["decision"] == "false_positive"

    no_project = run(lookout, "sequence-groups", "show", "2", *user)
    assert no_project.returncode == 1 and "project" in no_project.stderr
    missing = run(lookout, "sequence-groups", "show", "9", "--project", "ridge", *user)
    assert missing.returncode == 1 and "no group 9" in missing.stderr
    garbled = run(lookout, "sequence-groups", "show", "two", "--project", "ridge", *user)
    assert garbled.returncode == 1 and "group: 'two'" in garbled.stderr
    outsider = run(
        lookout, "sequence-groups", "show", chimney["id"], "--user", "nobody@example.org"
    )
    assert outsider.returncode == 1


def _groups_table(*more: sa.ColumnClause[Any]) -> sa.TableClause:
    """`sequence_groups` with the columns an insert needs."""
    return sa.table(
        "sequence_groups",
        *(sa.column(c, sa.Uuid()) for c in ("id", "project_id", "camera_id")),
        *(sa.column(c, sa.Double()) for c in ("x1", "y1", "x2", "y2")),
        sa.column("member_count", sa.Integer()),
        sa.column("false_positive_types", JSONType),
        *(sa.column(c, UTCDateTime()) for c in ("created_at", "updated_at")),
        *more,
    )


def test_migration_0016_numbers_existing_groups_in_creation_order(
    empty_database_url: str,  # noqa: F811
) -> None:
    upgrade(empty_database_url, "0015")
    when = datetime(2025, 3, 1, tzinfo=UTC)
    stamps = {"created_at": when, "updated_at": when}
    team, empty = uuid.uuid4(), uuid.uuid4()
    projects = {"north": uuid.uuid4(), "south": uuid.uuid4()}
    cameras = {name: uuid.uuid4() for name in projects}
    # Created in this order (minutes after `when`), inserted in another.
    created = {"n-a": 3, "n-b": 1, "n-c": 7, "s-a": 5, "s-b": 2}
    ids = {name: uuid.uuid4() for name in created}
    groups = _groups_table()
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(_table("groups", "name").insert(), {"id": team, "name": "g", **stamps})
        for name, project in [*projects.items(), ("empty", empty)]:
            conn.execute(
                _table("projects", "name", "group_id").insert(),
                {"id": project, "name": name, "group_id": team, **stamps},
            )
        for name, camera in cameras.items():
            conn.execute(
                _table("cameras", "project_id", "source", "source_id", "name", "extra").insert(),
                {
                    "id": camera,
                    "project_id": projects[name],
                    "source": "s",
                    "source_id": name,
                    "name": name,
                    "extra": {},
                    **stamps,
                },
            )
        for name in ("n-c", "s-a", "n-a", "s-b", "n-b"):
            home = "north" if name.startswith("n") else "south"
            at = when + timedelta(minutes=created[name])
            conn.execute(
                groups.insert(),
                {
                    "id": ids[name],
                    "project_id": projects[home],
                    "camera_id": cameras[home],
                    "x1": 0.1,
                    "y1": 0.1,
                    "x2": 0.2,
                    "y2": 0.2,
                    "member_count": 1,
                    "false_positive_types": [],
                    "created_at": at,
                    "updated_at": at,
                },
            )
    engine.dispose()

    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        numbered = {
            uuid.UUID(str(r[0])): r[1]
            for r in conn.execute(sa.text("SELECT id, number FROM sequence_groups"))
        }
        counters = {
            uuid.UUID(str(r[0])): r[1]
            for r in conn.execute(sa.text("SELECT id, last_group_number FROM projects"))
        }
    assert {name: numbered[i] for name, i in ids.items()} == {
        "n-b": 1,
        "n-a": 2,
        "n-c": 3,
        "s-b": 1,
        "s-a": 2,
    }
    assert counters == {projects["north"]: 3, projects["south"]: 2, empty: 0}
    # The numbers are unique within a project.
    with engine.connect() as conn, conn.begin():
        duplicate = {
            "id": uuid.uuid4(),
            "project_id": projects["north"],
            "camera_id": cameras["north"],
            "x1": 0.1,
            "y1": 0.1,
            "x2": 0.2,
            "y2": 0.2,
            "member_count": 1,
            "false_positive_types": [],
            **stamps,
        }
        numbered_groups = _groups_table(sa.column("number", sa.Integer()))
        try:
            conn.execute(numbered_groups.insert(), {**duplicate, "number": 2})
        except sa.exc.IntegrityError:
            refused = True
        else:
            refused = False
    assert refused
    engine.dispose()

    command.downgrade(alembic_config(empty_database_url), "0015")
    engine = make_engine(empty_database_url)
    inspector = sa.inspect(engine)
    assert "number" not in {c["name"] for c in inspector.get_columns("sequence_groups")}
    assert "last_group_number" not in {c["name"] for c in inspector.get_columns("projects")}
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM sequence_groups")).scalar_one()
    engine.dispose()
    assert left == 5  # the groups themselves stay
