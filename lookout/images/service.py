"""Storing, listing, serving and deleting images, scoped to the caller's projects."""

from __future__ import annotations

import base64
import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lookout import metadata_values, stored_objects
from lookout.accounts.models import User
from lookout.analyses.models import Analysis
from lookout.auth.principal import AccessScope, Principal
from lookout.classes.models import ImageClassification
from lookout.db import AnySelect, UTCDateTime, release_read_only
from lookout.errors import InvalidInput, LookoutError, NotFound
from lookout.images import trash
from lookout.images.inspect import EXTENSIONS, ImageFacts, inspect_image, make_thumbnail
from lookout.images.models import Image
from lookout.images.repository import ImageRepository, Trash, trash_clause
from lookout.images.schemas import IMAGE_JSON, image_json
from lookout.projects.models import Project
from lookout.projects.repository import ProjectRepository
from lookout.rendering import RenderedCache, render_json
from lookout.sequences.models import Sequence
from lookout.storage import ObjectNotFound, ObjectStorage, StorageError, cleanup

log = logging.getLogger(__name__)


def get_image(
    session: Session,
    *,
    principal: Principal,
    image_id: uuid.UUID,
    include_deleted: bool = False,
    for_update: bool = False,
) -> Image:
    """The image (one in the trash only with `include_deleted`), its row locked until the
    transaction ends with `for_update`."""
    return ImageRepository(session, principal).get(
        image_id, include_deleted=include_deleted, for_update=for_update
    )


@dataclass(frozen=True)
class StoredImage:
    image: Image
    existing: bool


@dataclass(frozen=True)
class ImageUpload:
    stream: BinaryIO
    filename: str | None = None
    captured_at: datetime | None = None
    sequence_id: uuid.UUID | None = None
    source: str | None = None
    source_id: str | None = None
    metadata: dict[str, Any] | None = None  # checked (lookout.metadata_values)
    facts: ImageFacts | None = None  # the stream already inspected
    written: bool = False  # its object already put (`checked_and_written`)


def _find_by_source(
    session: Session, project_id: uuid.UUID, source: str, source_id: str | None
) -> Image | None:
    return session.scalar(
        sa.select(Image).where(
            Image.project_id == project_id, Image.source == source, Image.source_id == source_id
        )
    )


def _check_sequence(session: Session, project_id: uuid.UUID, sequence_id: uuid.UUID | None) -> None:
    if sequence_id is None:
        return
    found = session.scalar(
        sa.select(Sequence.id).where(
            Sequence.id == sequence_id,
            Sequence.project_id == project_id,
            Sequence.deleted_at.is_(None),  # not in the trash
        )
    )
    if found is None:
        raise InvalidInput(f"sequence {sequence_id} is not in this project", field="sequence_id")


def store_image(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    upload: ImageUpload,
    max_pixels: int,
    on_stored: Callable[[Image], None] | None = None,
) -> StoredImage:
    """Check and store an image; an existing (source, source_id) answers with the stored one.

    `on_stored` adds rows that belong with the image (e.g. its predictions) in the same
    transaction, so either all of it is stored or none of it, object included.
    """
    project_id = ProjectRepository(session, principal).get(project_id).id
    _check_source_pair(upload)
    if upload.source and (
        existing := _find_by_source(session, project_id, upload.source, upload.source_id)
    ):
        return StoredImage(existing, existing=True)
    _check_sequence(session, project_id, upload.sequence_id)
    return store_checked_image(
        session,
        storage,
        principal=principal,
        project_id=project_id,
        upload=upload,
        max_pixels=max_pixels,
        on_stored=on_stored,
    )


def _check_source_pair(upload: ImageUpload) -> None:
    if (upload.source is None) != (upload.source_id is None):
        raise InvalidInput("source and source_id go together", field="source_id")


def store_checked_image(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    upload: ImageUpload,
    max_pixels: int,
    on_stored: Callable[[Image], None] | None = None,
) -> StoredImage:
    """`store_image` for a caller that has checked access to the project, that the sequence
    is the project's and that no image has this source id (adding a frame does): those
    queries are skipped; a concurrent twin is still caught by the database."""
    _check_source_pair(upload)
    release_read_only(session)  # no database lock held while decoding and storing
    facts = inspect_image(upload.stream, max_pixels=max_pixels)
    key = content_key(project_id, facts.sha256, facts.content_type)
    held, noted_keys = _objects_state(session, {key})
    shared, noted = key in held, key in noted_keys
    if noted:
        cleanup.unnote(session, key)
    # A key once noted as a leftover is reused now: the object is checked after the write.
    check_after = noted or shared
    if not shared:
        _put(session, storage, key, upload.stream, facts.content_type)
    image = _image_row(principal, project_id, upload, facts, key)
    session.add(image)
    try:
        if on_stored is not None:
            session.flush()
            on_stored(image)
        session.commit()
    except BaseException as exc:
        # No object without its row: undo the write, then answer with the winner if it raced.
        session.rollback()
        stored_objects.release(session, storage, [key])
        if isinstance(exc, IntegrityError) and upload.source:
            existing = _find_by_source(session, project_id, upload.source, upload.source_id)
            if existing is not None:
                return StoredImage(existing, existing=True)
        raise
    if check_after and storage.head(key) is None:
        # Another holder was deleted meanwhile and took the object along, or a sweep of an
        # old failed upload of these bytes removed it: store it again.
        upload.stream.seek(0)
        _put(session, storage, key, upload.stream, facts.content_type)
    cleanup.sweep_if_due(session, storage, stored_objects.keys_in_use)
    return StoredImage(image, existing=False)


def store_checked_images(
    session: Session,
    storage: ObjectStorage,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    uploads: list[ImageUpload],
    max_pixels: int,
    on_stored: Callable[[list[tuple[int, Image]]], None] | None = None,
) -> list[StoredImage | Exception]:
    """`store_checked_image` for several uploads, their rows (and what `on_stored` adds for
    them, given each upload's index) in one transaction: a result or an error per upload.

    An upload that is not a picture, or whose object cannot be stored, gets its error and
    the others go on. If the transaction fails (a row refused, a concurrent twin), each upload
    is stored on its own instead, so one bad row costs only its own upload.
    """
    release_read_only(session)  # no database lock held while decoding and storing
    results: list[StoredImage | Exception | None] = [None] * len(uploads)
    facts: dict[int, ImageFacts] = {}
    for index, upload in enumerate(uploads):
        try:
            _check_source_pair(upload)
            facts[index] = upload.facts or inspect_image(upload.stream, max_pixels=max_pixels)
        except LookoutError as exc:
            results[index] = exc
    keys = {i: content_key(project_id, f.sha256, f.content_type) for i, f in facts.items()}
    held, noted = _objects_state(session, set(keys.values()))
    for key in noted:
        cleanup.unnote(session, key)
    written = {key for index, key in keys.items() if uploads[index].written}
    for index, key in keys.items():
        if key in held or key in written:
            continue
        try:
            _put(session, storage, key, uploads[index].stream, facts[index].content_type)
        except StorageError as exc:
            results[index] = exc
        else:
            written.add(key)
    ready = [i for i in keys if results[i] is None]
    rows = [_image_row(principal, project_id, uploads[i], facts[i], keys[i]) for i in ready]
    try:
        session.add_all(rows)
        session.flush()
        if on_stored is not None:
            on_stored(list(zip(ready, rows, strict=True)))
        session.commit()
    except Exception:
        session.rollback()
        stored_objects.release(session, storage, sorted(written))
        for index in ready:
            results[index] = _store_alone(
                session, storage, principal, project_id, uploads, index, max_pixels, on_stored
            )
    else:
        for index, image in zip(ready, rows, strict=True):
            results[index] = StoredImage(image, existing=False)
        # Keys once noted, or held by rows that may be deleted meanwhile: checked after the write.
        for key in {keys[i] for i in ready} & (noted | held):
            if storage.head(key) is None:
                index = next(i for i in ready if keys[i] == key)
                uploads[index].stream.seek(0)
                _put(session, storage, key, uploads[index].stream, facts[index].content_type)
    cleanup.sweep_if_due(session, storage, stored_objects.keys_in_use)
    done = [result for result in results if result is not None]
    assert len(done) == len(uploads), "every upload has its result"
    return done


def _store_alone(
    session: Session,
    storage: ObjectStorage,
    principal: Principal,
    project_id: uuid.UUID,
    uploads: list[ImageUpload],
    index: int,
    max_pixels: int,
    on_stored: Callable[[list[tuple[int, Image]]], None] | None,
) -> StoredImage | Exception:
    """One upload of a batch whose transaction failed, stored in a transaction of its own."""

    def with_index(image: Image) -> None:
        if on_stored is not None:
            on_stored([(index, image)])

    uploads[index].stream.seek(0)
    try:
        return store_checked_image(
            session,
            storage,
            principal=principal,
            project_id=project_id,
            upload=uploads[index],
            max_pixels=max_pixels,
            on_stored=with_index,
        )
    except Exception as exc:
        return exc


def _image_row(
    principal: Principal, project_id: uuid.UUID, upload: ImageUpload, facts: ImageFacts, key: str
) -> Image:
    return Image(
        id=uuid.uuid4(),
        project_id=project_id,
        sequence_id=upload.sequence_id,
        object_key=key,
        filename=_clean_filename(upload.filename),
        content_type=facts.content_type,
        size_bytes=facts.size_bytes,
        width=facts.width,
        height=facts.height,
        sha256=facts.sha256,
        captured_at=upload.captured_at,
        source=upload.source,
        source_id=upload.source_id,
        uploaded_by_id=principal.user_id if principal.via != "local" else None,
        metadata_json=upload.metadata or None,
    )


def content_key(project_id: uuid.UUID, sha256: str, content_type: str) -> str:
    """Where a picture's bytes live: one object per content in each project."""
    return f"projects/{project_id}/images/sha256/{sha256}.{EXTENSIONS[content_type]}"


def _objects_state(session: Session, keys: set[str]) -> tuple[set[str], set[str]]:
    """Of `keys`, those a row holds (their bytes are stored) and those on the leftover sweep's
    list, in one read; no transaction is left open (nor, on SQLite, the write lock held)
    while the objects are stored."""
    if not keys:
        return set(), set()
    wanted = sorted(keys)
    held = sa.select(Image.object_key, sa.literal(True)).where(Image.object_key.in_(wanted))
    noted = cleanup.noted_among(wanted).add_columns(sa.literal(False))
    rows = session.execute(sa.union(held, noted)).all()
    session.commit()
    return {key for key, is_held in rows if is_held}, {key for key, is_held in rows if not is_held}


def checked_and_written(
    session: Session,
    storage: ObjectStorage,
    project_id: uuid.UUID,
    upload: ImageUpload,
    max_pixels: int,
) -> ImageUpload:
    """Inspect an upload and put its object ahead of `store_checked_images` (a frames batch
    does so while the next frame downloads): the upload with its facts, marked written.

    As that function's own puts, it comes before the row's transaction: a key on the leftover
    sweep's list is checked again once the row is committed, and a failed transaction
    releases the object. Raises what `inspect_image` and the storage raise.
    """
    facts = inspect_image(upload.stream, max_pixels=max_pixels)
    key = content_key(project_id, facts.sha256, facts.content_type)
    _put(session, storage, key, upload.stream, facts.content_type)
    return dataclasses.replace(upload, facts=facts, written=True)


def _put(
    session: Session, storage: ObjectStorage, key: str, stream: BinaryIO, content_type: str
) -> None:
    try:
        storage.put_file(key, stream, content_type)
    except StorageError:
        # The object may have landed even though the answer did not.
        cleanup.note_leftover(session, storage, key, "upload failed")
        raise


def _clean_filename(name: str | None) -> str | None:
    """Keep only a display name: no folders, no control characters."""
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] or None


def encode_cursor(image: Image) -> str:
    return cursor_of(image.created_at, image.id)


def cursor_of(created_at: datetime, image_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{image_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, image_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(image_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor", field="cursor") from exc


@dataclass(frozen=True)
class ImageFilters:
    sequence_id: uuid.UUID | None = None
    captured_after: datetime | None = None
    captured_before: datetime | None = None
    model_name: str | None = None
    analysis_status: str | None = None
    class_id: uuid.UUID | None = None
    # VISTA's search: `search_value` found (any case) in the file name, the content type,
    # any metadata key or value (`metadata`) or one key's value (`metadata.<key>` or the key).
    search_field: str | None = None
    search_value: str | None = None
    # Images in the trash: left out ("hidden"), shown too ("all") or alone ("only").
    trash: Trash = "hidden"
    # Who uploaded them (`uploader_id` resolves an email); NOBODY matches no image.
    uploaded_by_id: uuid.UUID | None = None


# The uploader of no image: what an unknown uploader's email stands for in a filter.
NOBODY = uuid.UUID(int=0)
MAX_EMAIL_CHARS = 320


def uploader_id(session: Session, value: str | None) -> uuid.UUID | None:
    """The `uploaded_by` filter's user: a user id, or an email in any case (NOBODY when no
    user has it: the filter then matches nothing); None when not given."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > MAX_EMAIL_CHARS:
        raise InvalidInput(
            f"uploaded_by: at most {MAX_EMAIL_CHARS} characters", field="uploaded_by"
        )
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    if "@" not in value:
        raise InvalidInput("uploaded_by: an email or a user id", field="uploaded_by")
    found = session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == value.lower()))
    return found or NOBODY


SEARCH_FIELDS = ("filename", "content_type", "metadata")
MAX_SEARCH_CHARS = 200


def check_search(field: str | None, value: str | None) -> tuple[str | None, str | None]:
    """VISTA's `search_field`/`search_value`, checked: both or neither, bounded, clean."""
    field = field.strip() if field else None
    value = value if value else None
    if (field is None) != (value is None):
        raise InvalidInput(
            "search_value: give search_field and search_value together", field="search_value"
        )
    for name, text in (("search_field", field), ("search_value", value)):
        if text is None:
            continue
        if len(text) > MAX_SEARCH_CHARS:
            raise InvalidInput(f"{name}: at most {MAX_SEARCH_CHARS} characters", field=name)
        if "\x00" in text or not text.isprintable():
            raise InvalidInput(f"{name}: must not hold control characters", field=name)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"{name}: must be valid Unicode", field=name) from None
    return field, value


def _search_kind(field: str | None) -> str:
    """Which search a `search_field` asks for: "", a column, "metadata" or "metadata_key"."""
    if field is None:
        return ""
    if field in SEARCH_FIELDS:
        return field
    return "metadata_key"


def _search_key(field: str) -> str:
    return field.removeprefix("metadata.") if field.startswith("metadata.") else field


def like_pattern(value: str) -> str:
    """`value` anywhere, its LIKE wildcards taken literally (escape character `\\`)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_images(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    filters: ImageFilters,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Image], str | None]:
    """A page of a project's images, newest first, with a cursor to the next page."""
    ProjectRepository(session, principal).get(project_id)
    shape, params = _page_shape(principal, project_id, filters, limit, cursor, _dialect(session))
    rows = list(session.scalars(_page_statement(shape, "orm"), params))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def list_images_after(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    filters: ImageFilters,
    skip: int,
    limit: int,
) -> list[Image]:
    """VISTA's paging: `limit` images after the first `skip`, in `list_images`' order."""
    ProjectRepository(session, principal).get(project_id)
    shape, params = _page_shape(principal, project_id, filters, limit, None, _dialect(session))
    statement = _page_statement(shape, "orm").offset(skip)
    return list(session.scalars(statement, params))[:limit]


def list_image_rows(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    filters: ImageFilters,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[sa.Row[Any]], str | None]:
    """`list_images` as plain rows (the API renders them straight to JSON), in one query.

    The access check rides along in the page query; only an empty page asks separately
    whether the project is there at all (404) or just has no images matching.
    """
    shape, params = _page_shape(principal, project_id, filters, limit, cursor, _dialect(session))
    rows = list(session.connection().execute(_page_statement(shape, "rows"), params))
    if not rows:
        ProjectRepository(session, principal).get(project_id)
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursor_of(rows[limit - 1].created_at, rows[limit - 1].id)
    return rows[:limit], next_cursor


def image_page_json(
    session: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    filters: ImageFilters,
    limit: int,
    cursor: str | None = None,
) -> tuple[bytes, str | None]:
    """A page of `list_images` as the JSON of a list of ImageRead, and the next cursor.

    On PostgreSQL the database builds the JSON in the page query itself (access check
    included): one round trip and no Python object per image. A page is also kept in memory
    under a digest of its rows' ids and `updated_at` (which every change of an image moves):
    asking again costs a query that reads only those, with the access check, and renders
    nothing. Elsewhere the rows are rendered here; both give the same JSON values.
    """
    if session.get_bind().dialect.name != "postgresql":
        rows, next_cursor = list_image_rows(
            session,
            principal=principal,
            project_id=project_id,
            filters=filters,
            limit=limit,
            cursor=cursor,
        )
        return render_json([image_json(row) for row in rows]), next_cursor
    shape, params = _page_shape(principal, project_id, filters, limit, cursor, _dialect(session))
    connection = session.connection()
    # By name: a Row's `count` attribute is, for the type checker, tuple.count.
    row = connection.execute(_page_statement(shape, "digest"), params).one()._mapping
    if row["count"] == 0:
        ProjectRepository(session, principal).get(project_id)
    # The page is the same for everyone who may see the project (checked above).
    key = (project_id, shape[1:], filters, limit, cursor)
    content: bytes | None = IMAGE_PAGES.get(key, row["digest"])
    if content is None:
        # Digest and JSON from one statement (one snapshot), so they always go together.
        row = connection.execute(_page_statement(shape, "json"), params).one()._mapping
        content = row["items"].encode("utf-8")
        IMAGE_PAGES.put(key, row["digest"], content)
    next_cursor = None
    if row["count"] > limit:
        next_cursor = cursor_of(row["last_created_at"], uuid.UUID(row["last_id"]))
    return content, next_cursor


IMAGE_PAGES = RenderedCache(max_bytes=8 * 1024 * 1024)  # sized by the app (size_caches)


# The page statements are built once per shape (which filters are set, whether there is a
# cursor, the caller's kind of access) with bound values, then reused: building a statement
# of this size costs more than running it.
PageShape = tuple[str, bool, bool, bool, bool, bool, bool, bool, bool, str, str, str]


def _page_shape(
    principal: Principal,
    project_id: uuid.UUID,
    filters: ImageFilters,
    limit: int,
    cursor: str | None,
    dialect: str = "",
) -> tuple[PageShape, dict[str, Any]]:
    values = {
        "sequence_id": filters.sequence_id,
        "captured_after": filters.captured_after,
        "captured_before": filters.captured_before,
        "model_name": filters.model_name,
        "analysis_status": filters.analysis_status,
        "class_id": filters.class_id,
        "uploaded_by_id": filters.uploaded_by_id,
    }
    params: dict[str, Any] = {k: v for k, v in values.items() if v}
    params.update(project_id=project_id, limit=limit, limit_plus_one=limit + 1)
    params.update(principal.scope.params)
    if cursor:
        params["cursor_created"], params["cursor_id"] = decode_cursor(cursor)
    search = _search_kind(filters.search_field)
    if search and filters.search_value:
        params["search_pattern"] = like_pattern(filters.search_value)
        if search == "metadata_key" and filters.search_field:
            params["search_key"] = _search_key(filters.search_field)
    else:
        search = ""
    flags = tuple(bool(v) for v in values.values())
    # The dialect only matters to a metadata search (JSON functions differ).
    shape = (
        principal.scope.kind,
        *flags,
        bool(cursor),
        search,
        dialect if search else "",
        filters.trash,
    )
    return shape, params  # type: ignore[return-value]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _metadata_match(dialect: str, by_key: bool) -> sa.ColumnElement[bool]:
    """An image's metadata holds `search_pattern` in a value (of key `search_key`), or (any
    key) in a key: one row per key and value from the database's JSON functions."""
    if dialect == "postgresql":
        # jsonb_each_text refuses anything but an object (JSON null: an image without any).
        objects = sa.case(
            (sa.func.jsonb_typeof(Image.metadata_json) == "object", Image.metadata_json),
            else_=sa.literal_column("'{}'::jsonb"),
        )
        each = sa.func.jsonb_each_text(objects).table_valued("key", "value")
        text: sa.ColumnElement[Any] = each.c.value
    else:
        each = sa.func.json_each(Image.metadata_json).table_valued("key", "value", "type")
        # SQLite's json_each gives true and false as 1 and 0; PostgreSQL as text.
        text = sa.case(
            (each.c.type.in_(("true", "false")), each.c.type), else_=sa.cast(each.c.value, sa.Text)
        )
    pattern = sa.bindparam("search_pattern", type_=sa.Text)
    found = text.ilike(pattern, escape="\\")
    if by_key:
        condition = sa.and_(each.c.key == sa.bindparam("search_key", type_=sa.Text), found)
    else:
        condition = sa.or_(found, each.c.key.ilike(pattern, escape="\\"))
    return sa.select(sa.literal(1)).select_from(each).where(condition).exists()


@functools.cache  # a few dozen shapes at most
def _page_statement(shape: PageShape, form: str) -> AnySelect:
    """Newest first by (created_at, id): keyset paging on ix_images_project_created.

    `form`: "orm" (Image objects, access checked before), "rows" (plain rows, access checked
    in the query) or "json" (PostgreSQL: the page as JSON text, the count of rows read and
    the last shown row's keys for the cursor).
    """
    (
        scope,
        sequence,
        after,
        before,
        model,
        status,
        klass,
        uploader,
        cursor,
        search,
        dialect,
        trash,
    ) = shape
    query: AnySelect = sa.select(Image) if form == "orm" else sa.select(*Image.__table__.c)
    query = query.where(Image.project_id == sa.bindparam("project_id"))
    in_trash = trash_clause(trash)  # type: ignore[arg-type]
    if in_trash is not None:
        query = query.where(in_trash)
    if form != "orm":
        visible = sa.select(Project.id).where(
            Project.id == sa.bindparam("project_id"),
            AccessScope.template(scope).clause(Project.group_id),
        )
        query = query.where(visible.exists())
    if sequence:
        query = query.where(Image.sequence_id == sa.bindparam("sequence_id"))
    if after:
        query = query.where(Image.captured_at >= sa.bindparam("captured_after"))
    if before:
        query = query.where(Image.captured_at < sa.bindparam("captured_before"))
    if model or status:
        has_analysis = sa.select(Analysis.id).where(Analysis.image_id == Image.id)
        if model:
            has_analysis = has_analysis.where(Analysis.model_name == sa.bindparam("model_name"))
        if status:
            has_analysis = has_analysis.where(Analysis.status == sa.bindparam("analysis_status"))
        query = query.where(has_analysis.exists())
    if klass:
        classified = sa.select(ImageClassification.id).where(
            ImageClassification.image_id == Image.id,
            ImageClassification.class_id == sa.bindparam("class_id", type_=sa.Uuid),
        )
        query = query.where(classified.exists())
    if uploader:
        query = query.where(Image.uploaded_by_id == sa.bindparam("uploaded_by_id", type_=sa.Uuid))
    if search in ("filename", "content_type"):
        column = Image.filename if search == "filename" else Image.content_type
        query = query.where(column.ilike(sa.bindparam("search_pattern"), escape="\\"))
    elif search:
        query = query.where(_metadata_match(dialect, by_key=search == "metadata_key"))
    if cursor:
        keys = sa.tuple_(
            sa.bindparam("cursor_created", type_=UTCDateTime()),
            sa.bindparam("cursor_id", type_=sa.Uuid),
        )
        query = query.where(sa.tuple_(Image.created_at, Image.id) < keys)
    query = query.order_by(Image.created_at.desc(), Image.id.desc())
    query = query.limit(sa.bindparam("limit_plus_one", type_=sa.Integer))
    if form in ("orm", "rows"):
        return query
    if form == "digest":  # only what the digest needs: no JSON, fewer columns read
        query = query.with_only_columns(Image.id, Image.created_at, Image.updated_at)
    page = query.subquery()
    rank = sa.func.row_number().over(order_by=(page.c.created_at.desc(), page.c.id.desc()))
    numbered = sa.select(page, rank.label("rank")).subquery()
    c, limit = numbered.c, sa.bindparam("limit", type_=sa.Integer)
    last = c.rank == limit
    row_key = sa.cast(c.id, sa.Text) + sa.literal_column("'/'") + sa.cast(c.updated_at, sa.Text)
    columns = [
        sa.func.md5(
            sa.func.string_agg(row_key, aggregate_order_by(sa.literal_column("','"), c.rank))
        ).label("digest"),
        sa.func.count().label("count"),
        sa.func.max(c.created_at).filter(last).label("last_created_at"),
        sa.func.max(sa.cast(c.id, sa.Text)).filter(last).label("last_id"),
    ]
    if form == "json":
        items = sa.func.coalesce(
            sa.func.json_agg(aggregate_order_by(_pg_image_json(c), c.rank)).filter(c.rank <= limit),
            sa.literal_column("'[]'::json"),
        )
        columns.append(sa.cast(items, sa.Text).label("items"))
    return sa.select(*columns)


def _pg_image_json(c: Any) -> Any:
    """json_build_object of one image, field for field as `IMAGE_JSON`."""
    url: sa.ColumnElement[str] = sa.literal_column("'/api/images/'") + sa.cast(c.id, sa.Text)
    computed = {
        "content_url": url + sa.literal_column("'/content'"),
        "thumbnail_url": url + sa.literal_column("'/thumbnail'"),
        "existing": sa.false(),
        # SQL NULL or JSON null (how the ORM stores None) both read as no metadata.
        "metadata": sa.case(
            (sa.func.jsonb_typeof(c.metadata_json) == "object", c.metadata_json),
            else_=sa.literal_column("'{}'::jsonb"),
        ),
    }
    return IMAGE_JSON.pg_object(c, computed)


def image_chunks(storage: ObjectStorage, image: Image) -> Iterator[bytes]:
    try:
        return storage.iter_chunks(image.object_key)
    except ObjectNotFound as exc:
        raise NotFound(f"the content of image {image.id} is missing from storage") from exc


def thumbnail_bytes(session: Session, storage: ObjectStorage, *, image: Image, size: int) -> bytes:
    """The stored thumbnail, computed and stored on first request."""
    release_read_only(session)  # no database lock held while storage answers
    if image.thumbnail_key:
        try:
            return storage.get_bytes(image.thumbnail_key)
        except ObjectNotFound:
            log.warning("thumbnail of image %s vanished; computing it again", image.id)
    try:
        original = storage.get_bytes(image.object_key)
    except ObjectNotFound as exc:
        raise NotFound(f"the content of image {image.id} is missing from storage") from exc
    thumb = make_thumbnail(original, size)
    key = f"projects/{image.project_id}/thumbnails/{image.id}.jpg"
    try:
        storage.put_bytes(key, thumb, "image/jpeg")
    except StorageError:
        cleanup.note_leftover(session, storage, key, "thumbnail upload failed")
        raise
    image.thumbnail_key = key
    session.commit()
    return thumb


def delete_image(
    session: Session, storage: ObjectStorage, *, principal: Principal, image_id: uuid.UUID
) -> None:
    """The immediate purge: the row first (the truth, cascading to analyses), then its
    objects; an image in the trash too. Logged as a purge (lookout.images.trash)."""
    image = get_image(session, principal=principal, image_id=image_id, include_deleted=True)
    trash.purge(session, storage, image, actor=principal)


def set_metadata(
    session: Session, *, principal: Principal, image_id: uuid.UUID, values: dict[str, Any]
) -> Image:
    """Set these keys of an image's metadata (checked by lookout.metadata_values), keep the
    others; the whole is checked for size again."""
    image = get_image(session, principal=principal, image_id=image_id)
    merged = {**(image.metadata_json or {}), **values}
    metadata_values.check_size(merged)
    image.metadata_json = merged  # a new dict: the change is seen, updated_at moves
    session.commit()
    return image


def delete_metadata_key(
    session: Session, *, principal: Principal, image_id: uuid.UUID, key: str
) -> Image:
    """Remove one key of an image's metadata (a missing key changes nothing, as in VISTA)."""
    image = get_image(session, principal=principal, image_id=image_id)
    current = dict(image.metadata_json or {})
    if key in current:
        del current[key]
        image.metadata_json = current or None
        session.commit()
    return image
