"""Where an export's files go: a folder, or a zip written as a stream.

Both implement `lookout.formats.writing.Sink`, what the format writers write to.

The zip writer never seeks and never keeps the archive: each entry is written once (a local
header, the data, a data descriptor with its CRC and sizes) straight to the output, and the
entry's central-directory record goes to a spooled temporary file that is copied to the output
at the end. Memory stays flat however many entries the archive holds (Python's `zipfile` keeps
one `ZipInfo` object per entry until it closes). ZIP64 records are added when the archive needs
them (more than 65,535 entries, or offsets and sizes beyond 4 GiB).

`stream_in_thread` turns a writer that pushes bytes into an iterator an HTTP response can pull,
through a small bounded queue, so the server holds a few chunks at a time.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from lookout.formats.writing import Sink, file_chunks

log = logging.getLogger(__name__)

_U32 = 0xFFFFFFFF
_U16 = 0xFFFF
_FLAG_DESCRIPTOR = 0x08
_FLAG_UTF8 = 0x800
_STORED = 0
_DEFLATED = 8


def check_member(path: str) -> str:
    """A relative POSIX path without '..', empty parts or a leading slash."""
    parts = path.split("/")
    if any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"invalid path inside an export: {path!r}")
    return path


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class DirectorySink:
    """Files in a folder (created if needed)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _target(self, path: str) -> Path:
        target = self.root / check_member(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_bytes(self, path: str, data: bytes, *, compress: bool = True) -> None:
        self._target(path).write_bytes(data)

    def write_chunks(
        self, path: str, chunks: Iterable[bytes], *, compress: bool = False, large: bool = False
    ) -> int:
        size = 0
        with self._target(path).open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        return size

    def write_file(self, path: str, source: IO[bytes], *, compress: bool = True) -> None:
        self.write_chunks(path, file_chunks(source))

    def close(self) -> None:
        pass


class SingleFileSink:
    """One file's bytes written straight to `out` (a results file served or saved as is)."""

    def __init__(self, out: Writable, name: str) -> None:
        self.out = out
        self.name = name

    def _check(self, path: str) -> None:
        if path != self.name:
            raise ValueError(f"a single-file export holds only {self.name}, not {path!r}")

    def write_bytes(self, path: str, data: bytes, *, compress: bool = True) -> None:
        self._check(path)
        self.out.write(data)

    def write_chunks(
        self, path: str, chunks: Iterable[bytes], *, compress: bool = False, large: bool = False
    ) -> int:
        self._check(path)
        size = 0
        for chunk in chunks:
            self.out.write(chunk)
            size += len(chunk)
        return size

    def write_file(self, path: str, source: IO[bytes], *, compress: bool = True) -> None:
        self.write_chunks(path, file_chunks(source))

    def close(self) -> None:
        pass


def _dos_time(moment: time.struct_time) -> tuple[int, int]:
    year = max(moment.tm_year, 1980)
    dos_date = ((year - 1980) << 9) | (moment.tm_mon << 5) | moment.tm_mday
    dos_time = (moment.tm_hour << 11) | (moment.tm_min << 5) | (moment.tm_sec // 2)
    return dos_time, dos_date


class ZipSink:
    """A zip archive written sequentially to any object with `write` (a file, a pipe)."""

    def __init__(self, out: Writable, *, compresslevel: int = 6) -> None:
        self.out = out
        self.offset = 0
        self.count = 0
        self.compresslevel = compresslevel
        self.dos_time, self.dos_date = _dos_time(time.localtime())
        # Central-directory records: spilled to disk past 4 MiB.
        self.directory = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115
        self.closed = False

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.offset += len(data)

    def write_bytes(self, path: str, data: bytes, *, compress: bool = True) -> None:
        self.write_chunks(path, [data], compress=compress)

    def write_file(self, path: str, source: IO[bytes], *, compress: bool = True) -> None:
        # Files copied whole (metadata) may be large: their headers carry ZIP64 fields.
        self._entry(path, file_chunks(source), compress=compress, large=True)

    def write_chunks(
        self, path: str, chunks: Iterable[bytes], *, compress: bool = False, large: bool = False
    ) -> int:
        return self._entry(path, chunks, compress=compress, large=large)

    def _entry(self, path: str, chunks: Iterable[bytes], *, compress: bool, large: bool) -> int:
        if self.closed:
            raise ValueError("the archive is closed")
        name = check_member(path).encode("utf-8")
        method = _DEFLATED if compress else _STORED
        flags = _FLAG_DESCRIPTOR | _FLAG_UTF8
        header_offset = self.offset
        extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0) if large else b""
        version = 45 if large else 20
        sizes = _U32 if large else 0
        self._emit(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                version,
                flags,
                method,
                self.dos_time,
                self.dos_date,
                0,
                sizes,
                sizes,
                len(name),
                len(extra),
            )
            + name
            + extra
        )
        crc = 0
        size = 0
        compressed = 0
        deflater = zlib.compressobj(self.compresslevel, zlib.DEFLATED, -15) if compress else None
        for chunk in chunks:
            if not chunk:
                continue
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            data = deflater.compress(chunk) if deflater else chunk
            compressed += len(data)
            self._emit(data)
        if deflater:
            tail = deflater.flush()
            compressed += len(tail)
            self._emit(tail)
        if not large and (size > _U32 or compressed > _U32):
            raise ValueError(f"{path} is larger than 4 GiB")
        if large:
            self._emit(struct.pack("<IIQQ", 0x08074B50, crc, compressed, size))
        else:
            self._emit(struct.pack("<IIII", 0x08074B50, crc, compressed, size))
        self._record(name, method, flags, crc, compressed, size, header_offset)
        self.count += 1
        return size

    def _record(
        self,
        name: bytes,
        method: int,
        flags: int,
        crc: int,
        compressed: int,
        size: int,
        header_offset: int,
    ) -> None:
        zip64: list[int] = []
        if size >= _U32:
            zip64.append(size)
        if compressed >= _U32:
            zip64.append(compressed)
        if header_offset >= _U32:
            zip64.append(header_offset)
        extra = struct.pack(f"<HH{len(zip64)}Q", 0x0001, 8 * len(zip64), *zip64) if zip64 else b""
        version = 45 if zip64 else 20
        record = struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | version,
            version,
            flags,
            method,
            self.dos_time,
            self.dos_date,
            crc,
            min(compressed, _U32),
            min(size, _U32),
            len(name),
            len(extra),
            0,
            0,
            0,
            0o100644 << 16,
            min(header_offset, _U32),
        )
        self.directory.write(record + name + extra)

    def close(self) -> None:
        """Write the central directory and the end records."""
        if self.closed:
            return
        self.closed = True
        start = self.offset
        for chunk in file_chunks(self.directory):
            self._emit(chunk)
        self.directory.close()
        length = self.offset - start
        if self.count >= _U16 or start >= _U32 or length >= _U32:
            zip64_end = self.offset
            self._emit(
                struct.pack(
                    "<IQHHIIQQQQ",
                    0x06064B50,
                    44,
                    (3 << 8) | 45,
                    45,
                    0,
                    0,
                    self.count,
                    self.count,
                    length,
                    start,
                )
            )
            self._emit(struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1))
        self._emit(
            struct.pack(
                "<IHHHHIIH",
                0x06054B50,
                0,
                0,
                min(self.count, _U16),
                min(self.count, _U16),
                min(length, _U32),
                min(start, _U32),
                0,
            )
        )


class ExportCancelled(Exception):
    """The reader went away (e.g. the HTTP client disconnected)."""


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


class _QueueWriter:
    """Collects writes into chunks of about `chunk_size` and hands them to the queue."""

    def __init__(self, out: queue.Queue[object], cancelled: threading.Event, chunk_size: int):
        self.out = out
        self.cancelled = cancelled
        self.chunk_size = chunk_size
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= self.chunk_size:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self.put(bytes(self.buffer))
            self.buffer.clear()

    def put(self, item: object) -> None:
        while True:
            if self.cancelled.is_set():
                raise ExportCancelled
            try:
                self.out.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


def stream_in_thread(
    produce: Callable[[Writable], None], *, chunk_size: int = 256 * 1024, depth: int = 4
) -> Iterator[bytes]:
    """Run `produce(out)` in a thread and yield what it writes, a few chunks in flight at most.

    An error in the producer is raised here; closing this iterator early stops the producer.
    """
    pipe: queue.Queue[object] = queue.Queue(maxsize=depth)
    cancelled = threading.Event()
    writer = _QueueWriter(pipe, cancelled, chunk_size)

    def run() -> None:
        try:
            produce(writer)
            writer.flush()
            writer.put(_DONE)
        except ExportCancelled:
            log.info("export stopped: the reader went away")
        except BaseException as exc:
            log.exception("export failed while streaming")
            with contextlib.suppress(ExportCancelled):
                writer.put(_Failure(exc))

    thread = threading.Thread(target=run, name="lookout-export", daemon=True)
    thread.start()
    try:
        while True:
            item = pipe.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            assert isinstance(item, bytes)
            yield item
    finally:
        cancelled.set()


def open_output(path: Path, single: str | None = None) -> tuple[Sink, BinaryIO | None]:
    """A zip sink for `*.zip` paths, the file itself for a `*.json` path when the export is
    the single file `single`, a folder sink otherwise; the file to close, if any."""
    if single is not None and path.suffix.lower() == ".json":
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("wb")
        return SingleFileSink(handle, single), handle
    if path.suffix.lower() == ".zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("wb")
        return ZipSink(handle), handle
    return DirectorySink(path), None
