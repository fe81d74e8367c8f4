"""The page routes over HTTP (no browser): policy headers, static files, access, paging."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import pytest
import sqlalchemy as sa

from lookout.images.models import Image
from lookout.images.service import encode_cursor
from lookout.web.routes import CSP, STATIC_DIR, STATIC_VERSION, TEMPLATE_DIR
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


def _setup(lookout, client):
    project = lookout.create_project(client, "cams")
    image = lookout.upload(client, project["id"], jpeg_bytes(160, 90)).json()
    sequence = client.post(
        "/api/sequences",
        json={
            "project_id": project["id"],
            "source": "test",
            "source_id": "s1",
            "started_at": "2025-07-14T10:00:00Z",
        },
    ).json()
    return project, image, sequence


def test_pages_carry_a_strict_policy_and_no_inline_code(lookout):
    client = lookout.keyed_client()
    project, image, sequence = _setup(lookout, client)
    for path in (
        "/projects",
        f"/projects/{project['id']}",
        f"/images/{image['id']}",
        f"/images/{image['id']}/compare",
        "/sequences",
        "/sequences/queue",
        f"/sequences/{sequence['id']}",
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
    alice = lookout.keyed_client("alice@example.org", group="team-a")
    bob = lookout.keyed_client("bob@example.org", group="team-b")
    project, image, sequence = _setup(lookout, alice)
    for path in (
        f"/projects/{project['id']}",
        f"/images/{image['id']}",
        f"/images/{image['id']}/compare",
        f"/sequences/{sequence['id']}",
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
    redirected = bob.get(f"/sequences/next?after={sequence['id']}")
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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_gallery_of_100000_images_pages_in_constant_time(lookout):
    client = lookout.keyed_client()
    project = lookout.create_project(client, "huge")
    project_id = uuid.UUID(project["id"])
    base = datetime(2024, 1, 1, tzinfo=UTC)
    with lookout.sessions() as session:
        for start in range(0, 100_000, 20_000):
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
                    for i in range(start, start + 20_000)
                ],
            )
        session.commit()
        deep = session.scalars(
            sa.select(Image)
            .where(Image.project_id == project_id)
            .order_by(Image.created_at.desc(), Image.id.desc())
            .offset(90_000)
            .limit(1)
        ).one()
        cursor = encode_cursor(deep)

    def fetch(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200, response.text[:300]
        return response.text

    # Keyset paging reaches page 1,501 directly; its speed is measured in bench, not here.
    assert "100,000 images" in fetch(f"/projects/{project_id}")
    far_html = fetch(f"/projects/{project_id}?cursor={cursor}&page=1501")
    tiles = re.findall(r'class="tile-link"', far_html)
    assert len(tiles) == 60 and "Page 1501" in far_html
