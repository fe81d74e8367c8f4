"""The object storage interface every backend implements."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1024 * 1024
_KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class StorageError(Exception):
    """The storage backend failed or is unavailable."""

    # What a client is told (the cause, which may name hosts and keys, is only logged).
    answer = "object storage is unavailable, try again"


class ObjectNotFound(StorageError):
    pass


class ObjectTooLarge(StorageError):
    pass


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None


@dataclass(frozen=True)
class OpenedObject:
    """An object being read: its size and type are those of the bytes `chunks` yields."""

    size: int
    content_type: str | None
    chunks: Iterator[bytes]


def validate_key(key: str) -> str:
    """Keys are built by Lookout from ids; refuse anything that could escape the store."""
    parts = key.split("/")
    if not parts or any(not _KEY_PART.fullmatch(part) or part in {".", ".."} for part in parts):
        raise ValueError(f"invalid object key: {key!r}")
    return key


class ObjectStorage(Protocol):
    """Blocking calls: run them in a worker thread, never on the event loop."""

    def put_file(
        self, key: str, source: BinaryIO, content_type: str, *, max_bytes: int | None = None
    ) -> int:
        """Store a stream under `key`, returning its size; refuse more than `max_bytes`."""
        ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def iter_chunks(self, key: str) -> Iterator[bytes]: ...

    def open_object(self, key: str) -> OpenedObject:
        """Start reading an object; size and type describe what is read (ObjectNotFound)."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """Size and content type of an object, or None when it does not exist."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""
        ...

    def copy(self, source: str, target: str) -> ObjectInfo:
        """Copy an object within the store (ObjectNotFound when `source` is missing); the
        copy's size and content type."""
        ...

    def presign_put(self, key: str, content_type: str, expires_in: int, base_url: str) -> str:
        """A URL that accepts one PUT of `content_type` to `key` until it expires."""
        ...

    def presign_get(
        self, key: str, expires_in: int, base_url: str, filename: str | None = None
    ) -> str: ...

    def check(self) -> None:
        """Raise StorageError when the backend cannot be reached."""
        ...
