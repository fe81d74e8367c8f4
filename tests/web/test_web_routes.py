"""The page routes over HTTP (no browser): policy headers, static files, access, paging."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import sqlalchemy as sa

from lookout.images.models import Image
from lookout.images.service import encode_cursor
from lookout.web.routes import CSP, STATIC_DIR, STATIC_VERSION, TEMPLATE_DIR
from tests.exports.builders import make_world
from tests.support import jpeg_bytes

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)


def _assert_no_inline_code(html: str) -> None:
    for attributes in SCRIPT_TAG.findall(html):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert not INLINE_HANDLER.search(html)
    assert not STYLE_ATTRIBUTE.search(html)
    assert "<style" not in html.lower()
    assert "https://" not in html and "http://" not in html  # nothing loaded from elsewhere


def _setup(lookout, email="alice@example.org", group="team"):
    """A project of the group with an image and a sequence; a client of the user."""
    world = make_world(lookout, email=email, group=group, camera=False)
    image = lookout.upload(world.client, world.project_id, jpeg_bytes(160, 90)).json()
    sequence = world.add_sequence("s1", frames=0, started_at="2025-07-14T10:00:00")
    return world.client, world.project, image, sequence.id


def test_pages_carry_a_strict_policy_and_no_inline_code(lookout):
    client, project, image, sequence = _setup(lookout)
    for path in (
        "/projects",
        f"/projects/{project['id']}",
        f"/projects/{project['id']}/trash",
        f"/images/{image['id']}",
        f"/images/{image['id']}/compare",
        "/sequences",
        "/sequences/queue",
        f"/sequences/{sequence}",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-frame-options"] == "DENY"
        assert "no-cache" in response.headers["cache-control"]
        _assert_no_inline_code(response.text)
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text):
            assert asset.endswith(f"?v={STATIC_VERSION}"), asset


def test_templates_and_scripts_keep_to_the_policy():
    for template in TEMPLATE_DIR.glob("*.html"):
        _assert_no_inline_code(template.read_text())
    for script in STATIC_DIR.glob("*.js"):
        source = script.read_text()
        assert "innerHTML" not in source, script.name  # text is never parsed as markup
        assert not re.search(r"\beval\(|new Function\(", source), script.name
        urls = re.findall(r"https?://[^\s\"'`]+", source)
        assert all(u.startswith("http://www.w3.org/") for u in urls), (script.name, urls)
    css = (STATIC_DIR / "app.css").read_text()
    assert "@import" not in css and "url(http" not in css


def test_static_files_are_versioned_and_cached(lookout):
    client = lookout.client()
    versioned = client.get(f"/static/app.js?v={STATIC_VERSION}")
    assert versioned.status_code == 200
    assert "javascript" in versioned.headers["content-type"]
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get("/static/overlay.js")  # imported by modules without a version
    assert plain.headers["cache-control"] == "no-cache"
    assert "etag" in plain.headers
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/favicon.svg").headers["content-type"] == "image/svg+xml"
    assert client.get("/static/../config.py").status_code == 404


def test_another_groups_pages_are_a_404_page_in_words(lookout):
    alice, project, image, sequence = _setup(lookout, "alice@example.org", "team-a")
    bob = lookout.keyed_client("bob@example.org", group="team-b")
    for path in (
        f"/projects/{project['id']}",
        f"/projects/{project['id']}/trash",
        f"/images/{image['id']}",
        f"/images/{image['id']}/compare",
        f"/sequences/{sequence}",
        f"/projects/{uuid.uuid4()}",
        "/sequences/not-an-id",
    ):
        response = bob.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "belongs to a group you are not a member of" in response.text
        assert "cams" not in response.text
    assert "cams" not in bob.get("/projects").text
    assert "cams" in alice.get("/projects").text
    redirected = bob.get(f"/sequences/next?after={sequence}")
    assert redirected.status_code == 404


def test_without_credentials_pages_ask_to_sign_in(lookout):
    response = lookout.client().get("/projects")
    assert response.status_code == 401
    assert "Sign-in required" in response.text
    assert response.headers["content-security-policy"] == CSP


def test_home_goes_to_the_projects(lookout):
    response = lookout.keyed_client().get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/projects"


def test_gallery_pages_by_keyset_newest_first(lookout):
    client = lookout.keyed_client()
    project = lookout.create_project(client, "many")
    base = datetime(2025, 1, 1, tzinfo=UTC)
    with lookout.sessions() as session:
        session.execute(
            sa.insert(Image),
            [
                {
                    "id": uuid.uuid4(),
                    "project_id": uuid.UUID(project["id"]),
                    "object_key": f"projects/{project['id']}/images/{i}.jpg",
                    "content_type": "image/jpeg",
                    "size_bytes": 1000,
                    "width": 64,
                    "height": 48,
                    "sha256": f"{i:064x}",
                    "created_at": base + timedelta(seconds=i),
                    "updated_at": base,
                }
                for i in range(130)
            ],
        )
        session.commit()
    url = f"/projects/{project['id']}"
    pages = []
    while url:
        html = client.get(url).text
        pages.append(re.findall(r'<a href="/images/([0-9a-f-]+)" class="tile-link">', html))
        found = re.search(r'<a class="button" href="([^"]+)" rel="next">', html)
        url = (
            urljoin(f"/projects/{project['id']}", found.group(1).replace("&amp;", "&"))
            if found
            else None
        )
    assert [len(p) for p in pages] == [60, 60, 10]
    everything = [i for p in pages for i in p]
    assert len(set(everything)) == 130
    with lookout.sessions() as session:
        newest_first = [
            str(i)
            for i in session.scalars(
                sa.select(Image.id)
                .where(Image.project_id == uuid.UUID(project["id"]))
                .order_by(Image.created_at.desc(), Image.id.desc())
            )
        ]
    assert everything == newest_first


def test_filters_with_bad_values_are_explained_not_fatal(lookout):
    client = lookout.keyed_client()
    project = lookout.create_project(client, "cams")
    response = client.get(f"/projects/{project['id']}?date_from=yesterday&sequence=abc&status=x")
    assert response.status_code == 200
    assert "is not a date" in response.text
    assert "is not an id" in response.text
    assert "is not an analysis status" in response.text
    listing = client.get("/sequences?stage=done&false_positive_type=ufo&date_to=soon")
    assert listing.status_code == 200
    assert "is not a processing stage" in listing.text
    assert "is unknown" in listing.text
    bad_cursor = client.get(f"/projects/{project['id']}?cursor=%%%")
    assert bad_cursor.status_code == 400
    assert "Invalid cursor" in bad_cursor.text


def test_static_version_changes_with_the_files(tmp_path: Path, monkeypatch):
    import shutil

    from lookout.web import routes

    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy)
    monkeypatch.setattr(routes, "STATIC_DIR", copy)
    assert routes._static_version() == STATIC_VERSION
    (copy / "app.css").write_text((copy / "app.css").read_text() + "\n/* changed */\n")
    assert routes._static_version() != STATIC_VERSION


class StatementWork:
    """What SQLite does for the statements run while it is open, statement by statement.

    Each statement's text, and its work: virtual-machine steps (counted by a progress handler
    on every connection the server uses), which grow with the rows a statement reads. Requests
    are made one at a time, so a step belongs to the statement started last.
    """

    EVERY = 10  # steps between two calls of the handler

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.steps: list[int] = []
        self._connections: list[Any] = []

    def __enter__(self) -> StatementWork:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._started)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._started)
        for raw in self._connections:
            raw.set_progress_handler(None, 0)

    def _started(self, conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        raw = conn.connection.driver_connection
        if raw not in self._connections:
            raw.set_progress_handler(self._step, self.EVERY)
            self._connections.append(raw)
        self.statements.append(statement)
        self.steps.append(0)

    def _step(self) -> int:
        if self.steps:
            self.steps[-1] += self.EVERY
        return 0  # go on

    def of(self, fragment: str) -> list[int]:
        """The work of the statements whose text holds `fragment`."""
        return [n for s, n in zip(self.statements, self.steps, strict=True) if fragment in s]


def _insert_images(lookout: Any, project_id: uuid.UUID, count: int) -> None:
    """`count` image rows, one second apart (rows only: a gallery never opens the objects)."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    with lookout.sessions() as session:
        for start in range(0, count, 20_000):
            session.execute(
                sa.insert(Image),
                [
                    {
                        "id": uuid.uuid4(),
                        "project_id": project_id,
                        "object_key": f"projects/{project_id}/images/{i}.jpg",
                        "content_type": "image/jpeg",
                        "size_bytes": 1000,
                        "width": 64,
                        "height": 48,
                        "sha256": f"{i:064x}",
                        "created_at": base + timedelta(seconds=i),
                        "updated_at": base,
                    }
                    for i in range(start, min(count, start + 20_000))
                ],
            )
        session.commit()


PAGE_STATEMENT = "ORDER BY images.created_at DESC, images.id DESC"  # the page's own statement


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_gallery_page_1501_of_100000_images_reads_as_many_rows_as_page_1(lookout):
    """Keyset paging, checked by the work SQLite does (not by a clock): the statement that
    reads a gallery page does as much at page 1,501 of 100,000 images as on the first page of
    130, and every page runs as many statements. Not the whole page: it also shows the
    project's image count, which counts every image (bench/scale.py times pages at depth)."""
    client = lookout.keyed_client()
    huge = uuid.UUID(lookout.create_project(client, "huge")["id"])
    small = uuid.UUID(lookout.create_project(client, "small")["id"])
    _insert_images(lookout, huge, 100_000)
    _insert_images(lookout, small, 130)
    with lookout.sessions() as session:
        deep = session.scalars(
            sa.select(Image)
            .where(Image.project_id == huge)
            .order_by(Image.created_at.desc(), Image.id.desc())
            .offset(90_000)
            .limit(1)
        ).one()
        cursor = encode_cursor(deep)

    def fetch(url: str) -> tuple[str, StatementWork]:
        with StatementWork() as work:
            response = client.get(url)
        assert response.status_code == 200, response.text[:300]
        return response.text, work

    # Keyset paging reaches page 1,501 directly.
    huge_html, huge_first = fetch(f"/projects/{huge}")
    assert "100,000 images" in huge_html
    far_html, far = fetch(f"/projects/{huge}?cursor={cursor}&page=1501")
    tiles = re.findall(r'class="tile-link"', far_html)
    assert len(tiles) == 60 and "Page 1501" in far_html
    small_html, small_first = fetch(f"/projects/{small}")
    assert "130 images" in small_html
    # As many statements for every page, and the page's own statement does as much work
    # 90,000 rows deep in 100,000 images as on the first page of 130 (an OFFSET, or a filter
    # over a scan, would read tens of thousands of rows more).
    pages = {"130 images, page 1": small_first, "100,000, page 1": huge_first, "page 1501": far}
    counts = {name: len(work.statements) for name, work in pages.items()}
    assert len(set(counts.values())) == 1, counts
    work = {name: w.of(PAGE_STATEMENT) for name, w in pages.items()}
    assert all(len(steps) == 1 for steps in work.values()), work
    least = min(steps[0] for steps in work.values())
    assert all(steps[0] <= 2 * least for steps in work.values()), work


def test_sequences_page_sorts_by_platform_score_and_filters_its_label(lookout):
    client = lookout.keyed_client()
    project = lookout.create_project(client, "cams")["id"]
    ids = {}
    for name, day, score, label, heading in (
        ("seq-low", 2, 0.2, "True", 10.0),  # the newest: first by default
        ("seq-high", 1, 0.9, "other_smoke", 20.0),
    ):
        body = {"project_id": project, "source": "pyronear", "source_id": name}
        body |= {"started_at": f"2024-01-0{day}T10:00:00Z", "platform_score": score}
        body |= {"source_label": label, "camera_azimuth": heading, "smoke_azimuth": 33.5}
        created = client.post("/api/sequences", json=body)
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    newest = client.get("/sequences").text
    assert newest.index("seq-low") < newest.index("seq-high")
    by_score = client.get("/sequences?order=score").text
    assert by_score.index("seq-high") < by_score.index("seq-low")
    assert 'value="score" selected' in by_score
    labelled = client.get("/sequences?platform_label=wildfire_smoke").text
    assert "seq-low" in labelled and "seq-high" not in labelled
    bad = client.get("/sequences?platform_label=fire&order=sideways")
    assert bad.status_code == 200
    explained = html.unescape(bad.text)
    assert "platform label: 'fire' is unknown" in explained
    assert "order: 'sideways' is unknown" in explained
    review = client.get(f"/sequences/{ids['seq-high']}").text
    assert "Smoke direction" in review and "33.5°" in review
