"""Objects in a local folder; presigned URLs point at Lookout itself.

An object's content type is kept under `META_DIR`, a top-level folder whose name starts with a
dot: no object key can name a file there (key parts start with a letter or digit), so no
upload can overwrite another object's content type. Side files `<key>.content-type` of older
versions are ignored (such a name is a valid key of an object of its own).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from lookout.storage.base import (
    CHUNK_SIZE,
    ObjectInfo,
    ObjectNotFound,
    ObjectTooLarge,
    OpenedObject,
    StorageError,
    validate_key,
)

ROUTE_PREFIX = "/storage/objects/"
META_DIR = ".content-types"
DEFAULT_TYPE = "application/octet-stream"


class LocalStorage:
    def __init__(self, root: Path, signing_key: bytes) -> None:
        self.root = root
        self.signing_key = signing_key
        self.root.mkdir(parents=True, exist_ok=True)
        # Resolved once: every object's path is checked against it (resolving walks the
        # folders with a system call each, on every frame stored).
        self._resolved_root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self._resolved_root):
            raise ValueError(f"invalid object key: {key!r}")
        return path

    def _meta_path(self, key: str) -> Path:
        """Where the content type of `key` is kept: out of reach of every object key."""
        return self._resolved_root / META_DIR / validate_key(key)

    def _content_type(self, key: str) -> str | None:
        try:
            return self._meta_path(key).read_text()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def put_file(
        self, key: str, source: BinaryIO, content_type: str, *, max_bytes: int | None = None
    ) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so readers never see half an object.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK_SIZE):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ObjectTooLarge(f"object is larger than {max_bytes} bytes")
                    out.write(chunk)
            meta = self._meta_path(key)
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text(content_type)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return size

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.put_file(key, io.BytesIO(data), content_type)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        return _read_chunks(self._open(key))

    def _open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc

    def open_object(self, key: str) -> OpenedObject:
        """The open file's own size: a file replaced meanwhile does not change what is read."""
        handle = self._open(key)
        size = os.fstat(handle.fileno()).st_size
        return OpenedObject(size, self._content_type(key), _read_chunks(handle))

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(size=path.stat().st_size, content_type=self._content_type(key))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def copy(self, source: str, target: str) -> ObjectInfo:
        """Copy through a temporary file and a rename, like every write."""
        with self._open(source) as handle:
            content_type = self._content_type(source) or DEFAULT_TYPE
            size = self.put_file(target, handle, content_type)
        return ObjectInfo(size=size, content_type=content_type)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"storage folder {self.root} is not writable")

    # Presigned URLs: an HMAC over method, key, content type and expiry.
    def sign(self, method: str, key: str, content_type: str, expires: int) -> str:
        message = "\n".join([method.upper(), key, content_type, str(expires)]).encode()
        digest = hmac.new(self.signing_key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify(
        self, method: str, key: str, content_type: str, expires: int, signature: str
    ) -> str | None:
        """None when the URL is valid, else the reason it is not."""
        if expires < int(time.time()):
            return "presigned URL has expired"
        expected = self.sign(method, key, content_type, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return "presigned URL signature does not match (wrong method, key or content type)"
        return None

    def _url(
        self,
        method: str,
        key: str,
        content_type: str,
        expires_in: int,
        base_url: str,
        extra: dict[str, str] | None = None,
    ) -> str:
        validate_key(key)
        expires = int(time.time()) + expires_in
        query = {
            "expires": str(expires),
            "signature": self.sign(method, key, content_type, expires),
        }
        if content_type:
            query["content_type"] = content_type
        query.update(extra or {})
        return f"{base_url.rstrip('/')}{ROUTE_PREFIX}{quote(key)}?{urlencode(query)}"

    def presign_put(self, key: str, content_type: str, expires_in: int, base_url: str) -> str:
        return self._url("PUT", key, content_type, expires_in, base_url)

    def presign_get(
        self, key: str, expires_in: int, base_url: str, filename: str | None = None
    ) -> str:
        extra = {"filename": filename} if filename else None
        return self._url("GET", key, "", expires_in, base_url, extra)


def _read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk
