"""The streaming zip writer and the thread pipe behind the export endpoint."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import zipfile

import pytest

from lookout.exports.sinks import DirectorySink, ZipSink, check_member, stream_in_thread


class NoSeek(io.RawIOBase):
    """A write-only stream, like a socket: the zip writer must never seek or tell."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.data += b
        return len(b)


def test_zip_entries_read_back(tmp_path):
    out = NoSeek()
    sink = ZipSink(out)
    payload = os.urandom(3 * 1024 * 1024 + 17)
    sink.write_bytes("data.yaml", b"names: {0: smoke}\n")
    sink.write_chunks("images/train/a.jpg", [payload[:1000], b"", payload[1000:]])
    spooled = io.BytesIO(b"x,y\n" * 50_000)
    sink.write_file("annotations.csv", spooled)
    sink.write_bytes("labels/train/a.txt", b"", compress=True)
    sink.write_bytes("unicode/é.txt", "plume ✓".encode())
    sink.close()
    archive = zipfile.ZipFile(io.BytesIO(bytes(out.data)))
    assert archive.testzip() is None
    assert archive.namelist() == [
        "data.yaml",
        "images/train/a.jpg",
        "annotations.csv",
        "labels/train/a.txt",
        "unicode/é.txt",
    ]
    assert archive.read("images/train/a.jpg") == payload
    assert archive.getinfo("images/train/a.jpg").compress_type == zipfile.ZIP_STORED
    assert archive.getinfo("annotations.csv").compress_type == zipfile.ZIP_DEFLATED
    assert archive.getinfo("annotations.csv").compress_size < 50_000
    assert archive.read("annotations.csv") == b"x,y\n" * 50_000
    assert archive.read("labels/train/a.txt") == b""
    assert archive.read("unicode/é.txt").decode() == "plume ✓"
    if shutil.which("unzip"):
        path = tmp_path / "out.zip"
        path.write_bytes(bytes(out.data))
        checked = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_more_than_65535_entries_use_zip64_end_records():
    out = NoSeek()
    sink = ZipSink(out)
    for i in range(70_000):
        sink.write_bytes(
            f"labels/{i}.txt", b"0 0.5 0.5 0.1 0.1\n" if i % 2 else b"", compress=False
        )
    sink.close()
    data = bytes(out.data)
    assert b"PK\x06\x06" in data[-200:]  # ZIP64 end of central directory
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert len(archive.infolist()) == 70_000
    assert archive.read("labels/69999.txt") == b"0 0.5 0.5 0.1 0.1\n"
    assert archive.read("labels/0.txt") == b""


def test_paths_cannot_escape(tmp_path):
    for bad in ("../x", "/etc/passwd", "a//b", "a/./b", ""):
        with pytest.raises(ValueError):
            check_member(bad)
    sink = DirectorySink(tmp_path / "out")
    with pytest.raises(ValueError):
        sink.write_bytes("../escape.txt", b"no")
    sink.write_bytes("images/val/a.jpg", b"yes")
    assert (tmp_path / "out" / "images" / "val" / "a.jpg").read_bytes() == b"yes"
    assert not (tmp_path / "escape.txt").exists()


def test_stream_in_thread_passes_bytes_in_bounded_chunks():
    piece = b"z" * 65_536

    def produce(out):
        for _ in range(160):  # 10 MiB
            out.write(piece)

    chunks = list(stream_in_thread(produce, chunk_size=256 * 1024))
    assert b"".join(chunks) == piece * 160
    assert max(len(c) for c in chunks) < 256 * 1024 + len(piece)


def test_stream_in_thread_raises_the_producers_error():
    def produce(out):
        out.write(b"a" * 300_000)
        raise RuntimeError("storage went away")

    stream = stream_in_thread(produce, chunk_size=1024)
    with pytest.raises(RuntimeError, match="storage went away"):
        for _ in stream:
            pass


def test_closing_the_stream_stops_the_producer():
    stopped = threading.Event()
    written = []

    def produce(out):
        try:
            while True:
                out.write(b"b" * 4096)
                written.append(1)
        finally:
            stopped.set()

    stream = stream_in_thread(produce, chunk_size=4096, depth=2)
    next(stream)
    stream.close()
    assert stopped.wait(5), "the producer kept running after the reader left"
    # The queue is bounded: the producer never ran far ahead of the reader.
    assert len(written) < 10
