"""Database engine, sessions and the column types shared by every domain."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A SELECT of any columns (`sa.Select[X]` alone means one column of type X).
AnySelect = sa.Select[*tuple[Any, ...]]

# Largest OFFSET a listing accepts: SQL integers are 64 bits and the drivers fail (a 500) on
# anything larger; no listing is anywhere near this long.
MAX_OFFSET = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), plain JSON elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


# The version (4) and variant (RFC 4122) bits of a random UUID, as `uuid.UUID(version=4)` sets them.
_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_ids(count: int) -> list[uuid.UUID]:
    """`count` random (version 4) UUIDs from one read of the system's random source.

    `uuid.uuid4()` reads it once per id: a system call each, which a 1,000-box post paid a
    thousand times (a quarter of its time in the request on a busy machine). Each UUID is then
    made from its integer as CPython 3.14's own `uuid4()` does, without `UUID.__init__`'s
    argument checks: 0.45 ms for 1,000 against 1.3 ms (`UUID(bytes=..., version=4)`), which
    was a tenth of the worker's CPU in a 1,000-box bulk post.
    """
    random = os.urandom(16 * count)
    # Locals: looked up a thousand times in a 1,000-box post.
    from_bytes, make, assign = int.from_bytes, object.__new__, object.__setattr__
    keep, bits, unknown, uuid_class = _UUID4_KEEP, _UUID4_BITS, uuid.SafeUUID.unknown, uuid.UUID
    ids = []
    for start in range(0, 16 * count, 16):
        made = make(uuid_class)
        assign(made, "int", from_bytes(random[start : start + 16]) & keep | bits)
        assign(made, "is_safe", unknown)
        ids.append(made)
    return ids


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
    dbapi_connection.isolation_level = None
    # WAL lets readers run while one writer writes; busy_timeout makes writers queue
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# How often a server refreshes SQLite's statistics, and how many rows of each index ANALYZE
# reads to do it (a bounded sample: 2 ms for 100,000 reviews, against 50 ms for all).
SQLITE_STATISTICS_EVERY_SECONDS = 600.0
SQLITE_ANALYSIS_LIMIT = 1000


def refresh_sqlite_statistics(engine: Engine) -> None:
    """ANALYZE a SQLite database from a sample of each index.

    PostgreSQL's autovacuum keeps its statistics; SQLite has none until asked, and without
    them it picks indexes by rules of thumb: a claim in a project of 100,000 sequences read
    them all by project (160 ms) instead of the queue's index of waiting reviews (2 ms).
    """
    with engine.connect() as conn:
        conn.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


async def keep_sqlite_statistics(
    engine: Engine, every: float = SQLITE_STATISTICS_EVERY_SECONDS
) -> None:
    """Refresh SQLite's statistics at once, then every `every` seconds, until cancelled (a
    server's lifespan runs this; nothing to do on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return
    while True:
        try:
            await asyncio.to_thread(refresh_sqlite_statistics, engine)
        except sa.exc.OperationalError as exc:  # locked past the busy timeout: next time
            log.warning("SQLite statistics not refreshed: %s", exc)
        await asyncio.sleep(every)


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# A pooled connection used this recently is handed out without a ping (HikariCP's "alive
# bypass window", 0.5 s there). A ping is one more round trip to PostgreSQL, which a busy
# server paid on every request: a tenth of an authenticated image read's rate. A connection
# the database dropped inside the window fails its request with a 503, and that failure makes
# the pool replace every connection made before it.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "lookout_idle_since"


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a connection that sat idle in the pool before handing it out; replace it if dead."""

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        # A connection made just now has no mark: it is as fresh as a ping would say.
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (a new one if need be).
            raise sa.exc.DisconnectionError(f"pooled connection is gone: {exc}") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> Engine:
    """An engine configured for the backend the URL names."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)

        # SQLite's default deferred transactions can deadlock two writers; BEGIN IMMEDIATE
        # takes the write lock up front so the busy timeout queues them instead.
        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # After BEGIN IMMEDIATE, which is not a write of the transaction's own.
        event.listen(engine, "begin", _reset_wrote)
        event.listen(engine, "before_cursor_execute", _note_write)
        return engine
    engine = sa.create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    _ping_when_idle(engine, ping_after_idle)
    event.listen(engine, "begin", _reset_wrote)
    event.listen(engine, "before_cursor_execute", _note_write)
    return engine


# psycopg forgets its prepared statements on every ROLLBACK (and only then), so a server
# whose read requests end with a rollback plans every statement again on every request. A
# transaction that wrote nothing ends the same with COMMIT; `finish_read_only` does that.
_WROTE = "lookout_wrote"
_READS = ("SELECT", "SHOW", "EXPLAIN")


def _reset_wrote(conn: sa.Connection) -> None:
    conn.info[_WROTE] = False


def _note_write(conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if not statement.lstrip()[:7].upper().startswith(_READS):
        conn.info[_WROTE] = True


def finish_read_only(session: Session) -> bool:
    """COMMIT the session's transaction if nothing was written in it (same effect as the
    rollback `close` would do, but psycopg keeps its prepared statements); True if done.

    Anything written or pending (flushed or not) is left for `close` to roll back."""
    if session.new or session.dirty or session.deleted or not session.in_transaction():
        return False
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or session.connection().info.get(_WROTE, True):
        return False
    session.commit()
    return True


def release_read_only(session: Session) -> bool:
    """End the session's transaction now if it only read; True if done.

    Call it before slow work that needs no database (object storage, fetching a URL, decoding
    an image): on SQLite every transaction holds the database's write lock (BEGIN IMMEDIATE),
    so one left open across a hung storage call or a slowly read download stops every other
    request until SQLite's busy timeout answers them "database is locked"; on PostgreSQL it
    holds a pooled connection. A transaction that wrote is kept, since its work must commit
    together with what follows. Loaded objects stay usable (sessions don't expire on commit).
    """
    if session.new or session.dirty or session.deleted or not session.in_transaction():
        return False
    if session.connection().info.get(_WROTE, True):
        return False
    session.commit()
    return True


def affected_rows(result: sa.Result[*tuple[Any, ...]]) -> int:
    """Rows an INSERT, UPDATE or DELETE without RETURNING touched.

    `Session.execute` answers those with a CursorResult (which has `rowcount`), but its
    overloads only promise a Result (sqlalchemy/sqlalchemy#9185).
    """
    if not isinstance(result, sa.CursorResult):
        raise TypeError(f"no row count: {type(result).__name__} is not a CursorResult")
    return result.rowcount


def pg_json_time(column: Any) -> Any:
    """PostgreSQL SQL for a timestamptz as pydantic writes one in JSON (JSON built by the
    database reads the same as JSON rendered in Python): UTC, six fraction digits unless they
    are all zero, then `Z`. NULL stays NULL."""
    utc = sa.func.timezone(sa.literal_column("'UTC'"), column)
    text = sa.func.to_char(utc, sa.literal_column('\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''))
    return sa.func.replace(text, sa.literal_column("'.000000Z'"), sa.literal_column("'Z'"))


def json_key(name: str) -> Any:
    """A constant key for json_build_object (a literal: bound parameters have no type there)."""
    return sa.literal_column(f"'{name}'")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session
