"""Hostile files through every way in: image uploads, frames (file and URL), artifacts.

Already covered elsewhere, not repeated here: non-images, a PNG bomb and oversized bodies on
the image upload (tests/images), presigned URL tampering, artifact names with separators and
sizes (tests/analyses/test_artifacts.py), keys that could escape the store (tests/storage).
This file completes the checklist on every route that takes a file: each hostile file is
refused on each of them with nothing stored, what is accepted is stored under the storage root
with a key Lookout made and served as what its bytes are, and display names are cleaned.
Dataset import is a command-line tool only (no route takes a dataset), checked below.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from PIL import Image

from lookout.app import create_app
from tests.analyses.ml_support import make_setup
from tests.conftest import make_settings
from tests.exports.builders import distinct_jpeg, make_world, smoke
from tests.reliability.record import record
from tests.security.access_rules import app_routes
from tests.security.conftest import OWNER_GROUP, SecurityWorld, sqlite_only
from tests.support import LiveServer, http_get, http_put, jpeg_bytes, png_bytes

UPLOAD_LIMIT = 300_000


# --- hostile files -----------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb)."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    data = zlib.compress(b"\x00" * (width * 3 + 1) * 8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def png_with_text_bomb() -> bytes:
    """A valid small PNG carrying a compressed text chunk that inflates to 64 MB."""
    image = png_bytes(16, 16)
    text = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * 64_000_000, 9))
    return image[:33] + text + image[33:]  # after the 8-byte signature and the IHDR chunk


def gif_claiming(width: int, height: int) -> bytes:
    """A GIF whose screen and single frame claim a huge size."""
    size = width.to_bytes(2, "little") + height.to_bytes(2, "little")
    frame = b"\x2c" + b"\x00\x00\x00\x00" + size + b"\x00"
    return b"GIF89a" + size + b"\x00\x00\x00" + frame + b"\x02\x02\x44\x01\x00" + b"\x3b"


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def noisy_png(width: int = 200, height: int = 200) -> bytes:
    """A PNG that does not compress away (so half of it is really half an image)."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(out, format="PNG")
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(document.domain)</script></svg>"
)

# name -> (bytes, filename, declared content type, statuses that refuse it)
REFUSED: dict[str, tuple[Callable[[], bytes], str, str, set[int]]] = {
    "html disguised as a JPEG": (lambda: HTML, "photo.jpg", "image/jpeg", {415}),
    "script disguised as a PNG": (
        lambda: b"alert(document.cookie);//",
        "x.png",
        "image/png",
        {415},
    ),
    "SVG with script": (lambda: SVG, "drawing.svg", "image/svg+xml", {415}),
    "SVG disguised as a PNG": (lambda: SVG, "drawing.png", "image/png", {415}),
    "PDF": (
        lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "x.jpg",
        "image/jpeg",
        {415},
    ),
    "empty file": (lambda: b"", "empty.jpg", "image/jpeg", {400}),
    "truncated JPEG": (lambda: truncated(jpeg_bytes(400, 300)), "cut.jpg", "image/jpeg", {400}),
    "truncated PNG": (lambda: truncated(noisy_png()), "cut.png", "image/png", {400}),
    "PNG bomb (40000x40000)": (
        lambda: png_claiming(40_000, 40_000),
        "bomb.png",
        "image/png",
        {413},
    ),
    "PNG bomb (100000x1001)": (
        lambda: png_claiming(100_000, 1_001),
        "wide.png",
        "image/png",
        {413},
    ),
    "GIF bomb (65535x65535)": (
        lambda: gif_claiming(65_535, 65_535),
        "bomb.gif",
        "image/gif",
        {413},
    ),
    "PNG text-chunk bomb": (png_with_text_bomb, "text.png", "image/png", {400, 413}),
    "oversized": (lambda: distinct_jpeg() + b"\x00" * UPLOAD_LIMIT, "big.jpg", "image/jpeg", {413}),
}


# --- the ways in -------------------------------------------------------------------------------


def upload_image(w: SecurityWorld, data: bytes, filename: str, content_type: str) -> httpx.Response:
    files = {"file": (filename, data, content_type)}
    return w.member.post(f"/api/projects/{w.project_id}/images", files=files)


def upload_frame(w: SecurityWorld, data: bytes, filename: str, content_type: str) -> httpx.Response:
    files = {"file": (filename, data, content_type)}
    metadata = {"source": "hostile", "source_id": w.unique("frame")}
    return w.member.post(
        f"/api/sequences/{w.sequence.id}/frames",
        files=files,
        data={"metadata": json.dumps(metadata)},
    )


class HostileSource:
    """A web server that answers whatever it is given, always claiming to send a JPEG."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        app = FastAPI()

        @app.get("/files/{name}")
        def serve(name: str) -> Response:
            return Response(self.files[name], media_type="image/jpeg")

        @app.get("/endless.jpg")
        def endless() -> StreamingResponse:  # no Content-Length: the size shows while reading
            chunks = (b"\xff" * 65_536 for _ in range(UPLOAD_LIMIT // 65_536 + 2))
            return StreamingResponse(chunks, media_type="image/jpeg")

        @app.get("/to-file")
        def to_file() -> RedirectResponse:
            return RedirectResponse("file:///etc/passwd")

        self.server = LiveServer(app).start()

    def url(self, data: bytes) -> str:
        name = f"f{len(self.files)}.jpg"
        self.files[name] = data
        return f"{self.server.url}/files/{name}"


@pytest.fixture
def source() -> Iterator[HostileSource]:
    running = HostileSource()
    yield running
    running.server.stop()


def frame_by_url(w: SecurityWorld, url: str) -> httpx.Response:
    body = {"url": url, "source": "hostile", "source_id": w.unique("url-frame")}
    return w.member.post(f"/api/sequences/{w.sequence.id}/frames", json=body)


# --- what is stored ------------------------------------------------------------------------------

# An object, or its content type (kept under the same key in local storage's META_DIR).
KEY = re.compile(
    r"(\.content-types/)?"
    r"(projects/[0-9a-f-]{36}/(images/sha256/[0-9a-f]{64}|thumbnails/[0-9a-f-]{36})"
    r"\.(jpg|png|gif|webp|bmp|tiff)"
    r"|analyses/[0-9a-f-]{36}/(artifacts|uploads)/[A-Za-z0-9][A-Za-z0-9._-]*)"
)


def storage_files(w: SecurityWorld) -> set[str]:
    """Every file under the data folder, as paths relative to the storage root."""
    root = w.lookout.settings.resolved_storage_path.resolve()
    data = w.lookout.settings.data_dir.resolve()
    found = set()
    for path in data.rglob("*"):
        if path.is_file() and path.name != "secret_key":
            resolved = path.resolve()
            assert resolved.is_relative_to(root), f"{path} is outside the storage root"
            found.add(resolved.relative_to(root).as_posix())
    return found


def assert_storage_is_clean(w: SecurityWorld) -> None:
    """Only keys Lookout made: no temporary leftovers, no names a client chose."""
    strange = sorted(f for f in storage_files(w) if not KEY.fullmatch(f))
    assert strange == [], strange


# --- tests ----------------------------------------------------------------------------------------


@sqlite_only
def test_hostile_files_are_refused_on_every_way_in(
    security_world_factory: Callable[..., SecurityWorld], source: HostileSource
) -> None:
    w = security_world_factory(LOOKOUT_MAX_UPLOAD_BYTES=UPLOAD_LIMIT)
    before_files, before_images = storage_files(w), w.lookout.count("images")
    failures: list[str] = []
    tried = 0
    for what, (make, filename, content_type, refused) in REFUSED.items():
        data = make()
        answers = {
            "image upload": upload_image(w, data, filename, content_type),
            "frame upload": upload_frame(w, data, filename, content_type),
            "frame by URL": frame_by_url(w, source.url(data)),
        }
        for way, response in answers.items():
            tried += 1
            if response.status_code not in refused:
                failures.append(f"{what} by {way}: {response.status_code} {response.text[:200]}")
            elif response.json().get("field") not in {"file", "url", None}:
                failures.append(f"{what} by {way}: blames {response.json()}")
    for what, url, refused in (
        ("endless download", f"{source.server.url}/endless.jpg", {413}),
        ("redirect to file://", f"{source.server.url}/to-file", {400, 502}),
        ("file:// URL", "file:///etc/passwd", {400}),
        ("javascript: URL", "javascript:alert(1)//http://x", {400}),
        ("data: URL", "data:image/jpeg;base64," + "A" * 16, {400}),
    ):
        tried += 1
        response = frame_by_url(w, url)
        if response.status_code not in refused:
            failures.append(f"{what}: {response.status_code} {response.text[:200]}")
    stored = w.lookout.count("images") - before_images
    record("hostile files", files_tried=tried, refused=tried - len(failures), stored=stored)
    assert failures == [], "\n".join(failures)
    assert stored == 0
    assert storage_files(w) == before_files
    assert_storage_is_clean(w)


@sqlite_only
def test_what_is_accepted_is_served_as_the_image_its_bytes_are(
    security_world: SecurityWorld,
) -> None:
    """A real image carrying HTML after its end (a polyglot) or sent as text/html is an image."""
    w = security_world
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, format="GIF")
    cases = [
        (gif.getvalue() + HTML, "page.html", "text/html", "image/gif"),
        (distinct_jpeg() + HTML, "page.htm", "text/html", "image/jpeg"),
        (png_bytes(9, 9), "x.svg", "image/svg+xml", "image/png"),
    ]
    for data, filename, declared, actual in cases:
        for upload in (upload_image, upload_frame):
            response = upload(w, data, filename, declared)
            assert response.status_code == 201, response.text
            image_id = response.json()["id"]
            served = w.member.get(f"/api/images/{image_id}/content")
            assert served.headers["content-type"] == actual
            assert served.headers["x-content-type-options"] == "nosniff"
            thumbnail = w.member.get(f"/api/images/{image_id}/thumbnail")
            assert thumbnail.headers["content-type"] == "image/jpeg"
    assert_storage_is_clean(w)


HOSTILE_NAMES = [
    "../../../../etc/passwd.jpg",
    "..\\..\\windows\\win.ini.jpg",
    "/absolute/path.jpg",
    "a/b/../c.jpg",
    "..",
    "new\r\nline.jpg",
    "tab\tand\x1b[31mescape.jpg",
    "\u202egpj.exe",
    "<img src=x onerror=alert(1)>.jpg",
    '"quoted"; filename=other.jpg',
    "%2e%2e%2fencoded.jpg",
    "ﾟ漢字-ümlaut-😀.jpg",
    "long-" + "x" * 400 + ".jpg",
]


def clean(name: str | None) -> bool:
    """A display name: no folders, no control or formatting characters, bounded."""
    if name is None:
        return True
    return (
        "/" not in name
        and "\\" not in name
        and all(ch.isprintable() for ch in name)
        and len(name) <= 255
    )


@sqlite_only
def test_hostile_file_names_are_cleaned_and_never_reach_storage(
    security_world: SecurityWorld,
) -> None:
    w = security_world
    stored: list[tuple[str, str | None]] = []
    for name in HOSTILE_NAMES:
        for upload in (upload_image, upload_frame):
            response = upload(w, distinct_jpeg(), name, "image/jpeg")
            assert response.status_code in (201, 400), (name, response.text)
            if response.status_code == 201:
                image = w.member.get(f"/api/images/{response.json()['id']}").json()
                assert clean(image["filename"]), (name, image["filename"])
                stored.append((image["id"], image["filename"]))
    assert len(stored) >= len(HOSTILE_NAMES)  # names are cleaned, not a reason to refuse
    names = {filename for _, filename in stored}
    assert "ﾟ漢字-ümlaut-😀.jpg" in names  # unicode that is printable is kept as it is
    assert "gpj.exe" in names  # the right-to-left override is dropped
    markup = next(i for i, n in stored if n and "<img" in n)
    for page in (f"/images/{markup}", f"/images/{markup}/compare", f"/projects/{w.project_id}"):
        html = w.member.get(page)
        assert html.status_code == 200
        assert "<img src=x onerror" not in html.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in html.text
    assert_storage_is_clean(w)
    record("hostile file names", names_tried=len(HOSTILE_NAMES) * 2, stored_cleaned=len(stored))


ARTIFACT_NAMES = [
    "café.png",
    "emoji😀.png",
    "new\nline.png",
    "nul\x00.png",
    "tab\t.png",
    "\u202ecod.exe",
    " leading-space.png",
    "a" * 201,
    "..",
    "./dot.png",
    "C:\\temp\\x.png",
]


@sqlite_only
def test_artifact_names_beyond_plain_ascii_are_refused(security_world: SecurityWorld) -> None:
    w = security_world
    analysis_id = w.fresh_analysis(status="processing")
    path = f"/api/analyses/{analysis_id}/artifacts/presign"
    for name in ARTIFACT_NAMES:
        artifact = {"artifact_name": name, "content_type": "image/png"}
        response = w.signed("POST", path, {"artifacts": [artifact]})
        assert response.status_code == 400, (name, response.text)
    listed = w.member.get(f"/api/analyses/{analysis_id}/artifacts").json()["artifacts"]
    assert listed == []
    assert_storage_is_clean(w)


def _presigned_artifact(w: SecurityWorld, name: str, content_type: str, body: bytes) -> str:
    """Upload an artifact through its presigned PUT URL; returns its analysis id."""
    analysis_id = w.fresh_analysis(status="processing")
    payload = {"artifacts": [{"artifact_name": name, "content_type": content_type}]}
    presigned = w.signed("POST", f"/api/analyses/{analysis_id}/artifacts/presign", payload)
    url = presigned.json()["presigned_urls"][0]["upload_url"]
    put = w.raw.put(url, content=body, headers={"Content-Type": content_type})
    assert put.status_code == 200, put.text
    return analysis_id


ACTIVE_ARTIFACTS = [
    ("page.html", "text/html", HTML),
    ("drawing.svg", "image/svg+xml", SVG),
    ("code.js", "application/javascript", b"alert(document.cookie)"),
    (
        "data.xml",
        "application/xml",
        b"<?xml version='1.0'?><x:script xmlns:x='http://www.w3.org/1999/xhtml'>alert(1)</x:script>",
    ),
    ("blob", "application/x-unknown", HTML),
    ("picture.png", "image/png", png_bytes(4, 4)),
]


@sqlite_only
def test_artifacts_are_always_downloads_whatever_their_type(security_world: SecurityWorld) -> None:
    """Through the API and through the local presigned GET: attachment, nosniff, no scripts."""
    w = security_world
    served = 0
    for name, content_type, body in ACTIVE_ARTIFACTS:
        analysis_id = _presigned_artifact(w, name, content_type, body)
        direct = w.member.get(f"/api/analyses/{analysis_id}/artifacts/{name}")
        presigned = w.raw.get(w.download_url(analysis_id, name))
        for response in (direct, presigned):
            assert response.status_code == 200 and response.content == body
            assert response.headers["content-disposition"].startswith("attachment;")
            assert response.headers["x-content-type-options"] == "nosniff"
            served += 1
        assert direct.headers["content-security-policy"] == "sandbox"
        # The download name is not signed: a changed one is still cleaned, still a download.
        parts = urlsplit(w.download_url(analysis_id, name))
        query = {**dict(parse_qsl(parts.query)), "filename": "../../x.html\r\nX-A: b"}
        renamed = w.raw.get(f"{parts.path}?{urlencode(query)}")
        assert renamed.status_code == 200
        disposition = renamed.headers["content-disposition"]
        assert disposition.startswith("attachment;") and "/" not in disposition
        assert "x-a" not in renamed.headers
    assert_storage_is_clean(w)
    record("artifacts served as downloads", artifact_types=len(ACTIVE_ARTIFACTS), answers=served)


@sqlite_only
def test_artifacts_on_s3_are_downloads_too(
    lookout_factory: Callable[..., Any], s3_endpoint: str
) -> None:
    """S3 serves presigned GETs itself: the URL asks it for an attachment."""
    lookout = lookout_factory(
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_BUCKET=f"sec-{uuid.uuid4().hex}",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
        S3_CREATE_BUCKET=True,
    )
    s = make_setup(lookout)
    analysis_id = s.create_analysis()["id"]
    artifact = {"artifact_name": "page.html", "content_type": "text/html"}
    presigned = s.v1(
        "POST", f"/api/analyses/{analysis_id}/artifacts/presign", {"artifacts": [artifact]}
    )
    upload_url = presigned.json()["presigned_urls"][0]["upload_url"]
    assert http_put(upload_url, content=HTML, headers={"Content-Type": "text/html"}).is_success
    url = s.client.get(f"/api/analyses/{analysis_id}/artifacts/page.html/url").json()["url"]
    fetched = http_get(url)
    assert fetched.status_code == 200 and fetched.content == HTML
    assert fetched.headers["content-disposition"] == 'attachment; filename="page.html"'
    direct = s.client.get(f"/api/analyses/{analysis_id}/artifacts/page.html")
    assert direct.headers["content-disposition"] == 'attachment; filename="page.html"'
    assert direct.headers["content-security-policy"] == "sandbox"


def test_dataset_import_is_not_exposed_over_http(tmp_path: Path) -> None:
    """Datasets (COCO, YOLO) come in by `lookout import-dataset` only: no route takes one."""
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'routes.db'}"))
    assert [r for r in app_routes(app) if "import" in r.lower() or "dataset" in r.lower()] == []


HOSTILE_PROJECT = '../../evil"; filename="x.html\r\nX-Injected: 1 <script>'


@sqlite_only
def test_exports_are_downloads_with_safe_names(security_world: SecurityWorld) -> None:
    """Dataset and analysis exports of objects with hostile names: attachments, clean names."""
    w = security_world
    world = make_world(
        w.lookout, email="alice@example.org", group=OWNER_GROUP, name=HOSTILE_PROJECT, camera=False
    )
    seq = world.add_sequence("hostile-seq", frames=1)
    world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    model = '../"model"\r\nX-Injected: 1'
    created = w.member.post(f"/api/images/{w.image_id}/analyses", json={"model_name": model})
    assert created.status_code == 201, created.text
    downloads = [
        w.member.get("/api/exports", params={"project_id": world.project_id, "format": fmt})
        for fmt in ("coco", "csv")
    ] + [
        w.member.get(f"/api/analyses/{created.json()['id']}/export", params={"format": fmt})
        for fmt in ("json", "csv")
    ]
    for response in downloads:
        assert response.status_code == 200, response.text
        disposition = response.headers["content-disposition"]
        name = re.fullmatch(r'attachment; filename="([A-Za-z0-9._-]+)"', disposition)
        assert name is not None, disposition
        assert "x-injected" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
