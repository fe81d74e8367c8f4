"""VOC, CSV, JSONL and zip input: bad input is an InvalidInput naming file, line and field."""

from __future__ import annotations

import zipfile

import pytest

from lookout.errors import InvalidInput
from lookout.formats.registry import detect_format, read_dataset, unpacked
from tests.support import jpeg_bytes


def image_folder(tmp_path, name="images"):
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(jpeg_bytes(64, 48))
    return folder


def test_a_zip_member_outside_the_folder_is_refused(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../outside.txt", "x")
    with pytest.raises(InvalidInput, match="outside the archive"), unpacked(path):
        pass


def test_a_zip_larger_than_the_room_to_unpack_it_is_refused_before_writing(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 2_000_000)  # 2 MB from a few kB
    assert path.stat().st_size < 20_000
    refusal = pytest.raises(InvalidInput, match="unpacks to 2.0 MB, more than the 1.0 MB free")
    with refusal as refused, unpacked(path, room_bytes=1_000_000) as folder:
        raise AssertionError(f"unpacked into {folder}")
    assert refused.value.field == "path"
    with unpacked(path, room_bytes=3_000_000) as folder:
        assert (folder / "zeros.bin").stat().st_size == 2_000_000


def test_a_zip_of_one_folder_is_read_inside_it(tmp_path):
    image_folder(tmp_path / "ds")
    box = '{"class_name": "smoke", "xyxyn": [0.1, 0.1, 0.5, 0.5]}'
    (tmp_path / "ds" / "annotations.jsonl").write_text(
        f'{{"file_name": "a.jpg", "boxes": [{box}]}}\n'
    )
    path = tmp_path / "ds.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in (tmp_path / "ds").rglob("*"):
            archive.write(file, file.relative_to(tmp_path))
    with unpacked(path) as folder:
        assert detect_format(folder) == "jsonl"
        assert read_dataset(folder).images[0].boxes[0].class_name == "smoke"


def test_bad_voc_xml_names_the_file(tmp_path):
    image_folder(tmp_path, "JPEGImages")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text("<annotation><filename>a.jpg")
    with pytest.raises(InvalidInput, match=r"Annotations/a.xml: not valid XML"):
        read_dataset(tmp_path)


def test_a_voc_box_outside_the_image_is_refused(tmp_path):
    image_folder(tmp_path, "JPEGImages")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>smoke</name><bndbox>"
        "<xmin>0</xmin><ymin>0</ymin><xmax>65</xmax><ymax>10</ymax></bndbox></object>"
        "</annotation>"
    )
    with pytest.raises(InvalidInput, match=r"object\[0\]: box .* outside") as caught:
        read_dataset(tmp_path, "voc")
    assert caught.value.field == "annotations"


def test_csv_without_its_columns_is_refused(tmp_path):
    (tmp_path / "annotations.csv").write_text("file_name,class\na.jpg,smoke\n")
    with pytest.raises(InvalidInput, match="missing columns kind, x1, x2, y1, y2"):
        read_dataset(tmp_path)


def test_a_bad_jsonl_line_names_its_number(tmp_path):
    image_folder(tmp_path)
    (tmp_path / "annotations.jsonl").write_text('{"file_name": "a.jpg"}\n{oops\n')
    with pytest.raises(InvalidInput, match=r"annotations.jsonl:2: not valid JSON"):
        read_dataset(tmp_path)


def test_an_unknown_format_lists_the_readable_ones(tmp_path):
    with pytest.raises(InvalidInput, match="use coco, yolo, voc, csv, jsonl"):
        read_dataset(tmp_path, "kitti")
