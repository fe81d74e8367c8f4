"""Ultralytics YOLO: reading a folder (checked) and writing one.

A folder holds data.yaml (class names, split folders), images/<split>/ and labels/<split>/ with
one `class cx cy w h [confidence]` line per box, normalized. What Lookout writes reads back
the same within the labels' six decimals.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from lookout.formats.coco import false_positive
from lookout.formats.dataset import (
    IMAGE_SUFFIXES,
    NORMALIZED_TOLERANCE,
    Dataset,
    DatasetBox,
    DatasetImage,
    apply_fields,
    bad,
    clip,
    inside,
    probe,
)
from lookout.formats.writing import (
    SIDECAR,
    SPLITS,
    Item,
    Writer,
    json_bytes,
    sidecar_record,
    spool,
)

# --- Reading -------------------------------------------------------------------------------


def yolo_yaml(folder: Path) -> Path | None:
    """The folder's dataset YAML: data.yaml (or .yml, dataset.yaml), or its only *.yaml."""
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.yaml"))
    return found[0] if len(found) == 1 else None


def is_yolo_folder(folder: Path) -> bool:
    """A folder with a dataset YAML or a classes.txt."""
    return yolo_yaml(folder) is not None or (folder / "classes.txt").is_file()


def _load_yaml(path: Path) -> dict[str, Any]:
    """The dataset YAML as a mapping."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise bad(f"{path.name}: not valid YAML ({exc})", "path") from exc
    if not isinstance(config, dict):
        raise bad(f"{path.name}: must be a mapping with names", "path")
    return config


def _yaml_names(path: Path, names: Any) -> list[str]:
    """`names` of a dataset YAML: a list, or a mapping numbered 0..n-1."""
    if isinstance(names, dict):
        try:
            ordered = sorted((int(k), v) for k, v in names.items())
        except (TypeError, ValueError) as exc:
            raise bad(f"{path.name}: names keys must be class indices", "names") from exc
        if [k for k, _ in ordered] != list(range(len(ordered))):
            raise bad(f"{path.name}: names must be numbered 0..{len(ordered) - 1}", "names")
        names = [v for _, v in ordered]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise bad(f"{path.name}: `names` must list the class names", "names")
    return [str(n) for n in names]


def _yolo_names(folder: Path) -> tuple[list[str], dict[str, Any]]:
    """Class names (from the YAML, else classes.txt) and the YAML's settings."""
    path = yolo_yaml(folder)
    if path is not None:
        config = _load_yaml(path)
        return _yaml_names(path, config.get("names")), config
    classes = folder / "classes.txt"
    if classes.is_file():
        names = [line.strip() for line in classes.read_text(encoding="utf-8").splitlines()]
        return [n for n in names if n], {}
    raise bad(f"{folder}: a YOLO folder needs a data.yaml (with names) or a classes.txt", "path")


def _yolo_root(folder: Path, config: dict[str, Any]) -> Path:
    """The folder a YOLO dataset's files must lie in: its own, or data.yaml's absolute path."""
    if isinstance(config.get("path"), str) and Path(config["path"]).is_absolute():
        return Path(config["path"])
    return folder


def _check_inside(path: Path, root: Path, shown: str) -> Path:
    """`path` when it resolves inside `root`; a link to a file elsewhere is refused."""
    if not inside(path, root):
        raise bad(
            f"{shown}: resolves to {path.resolve()}, outside the dataset folder {root}; "
            "links out of the dataset are not imported",
            "path",
        )
    return path


def _split_entries(config: dict[str, Any]) -> list[tuple[str | None, Any]]:
    """What train, val and test name (folders or list files), with their split; `images`
    (no split) when none is named."""
    entries: list[tuple[str | None, Any]] = []
    for split in SPLITS:
        value = config.get(split)
        values = value if isinstance(value, list) else [value] if value else []
        entries.extend((split, v) for v in values)
    return entries or [(None, "images")]


def _listed_files(target: Path, root: Path) -> list[Path]:
    """Images named one per line in a list file, relative to the list's folder."""
    files: list[Path] = []
    for line in target.read_text(encoding="utf-8").splitlines():
        if line.strip():
            listed = (target.parent / line.strip()).resolve()
            if not inside(listed, root):
                raise bad(f"{target.name}: {line.strip()} is outside the folder", "path")
            files.append(listed)
    return files


def _yolo_image_files(folder: Path, config: dict[str, Any]) -> dict[Path, str | None]:
    """The dataset's image files, each once, in the order its splits name them, with the split
    that names them first (None when data.yaml names no split)."""
    root = _yolo_root(folder, config)
    files: dict[Path, str | None] = {}
    for split, entry in _split_entries(config):
        target = root / str(entry)
        if not inside(target, root):
            raise bad(f"{entry}: points outside the dataset folder", "path")
        if target.is_dir():
            found = [
                _check_inside(path, root, str(path.relative_to(root)))
                for path in sorted(target.rglob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES
            ]
        elif target.is_file() and target.suffix == ".txt":
            found = _listed_files(target, root)
        else:
            raise bad(f"{entry}: no such image folder or list in {root}", "path")
        for path in found:
            files.setdefault(path, split)
    return files


def label_path(image_path: Path) -> Path:
    """Ultralytics' rule: the last `images` folder becomes `labels`, the suffix `.txt`."""
    parts = list(image_path.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_yolo(folder: Path) -> Dataset:
    """Read and check a YOLO folder: data.yaml, images/ and labels/ (class cx cy w h [conf])."""
    if not folder.is_dir():
        raise bad(f"{folder}: no such YOLO folder", "path")
    names, config = _yolo_names(folder)
    files = _yolo_image_files(folder, config)
    root = _yolo_root(folder, config)
    if not files:
        raise bad(f"{folder}: no images found", "path")
    out = [_yolo_image(file_path, folder, root, names) for file_path in files]
    for image, split in zip(out, files.values(), strict=True):
        image.split = split
    _read_sidecar(folder, out)
    used = {box.class_name for image in out for box in image.boxes}
    return Dataset("yolo", folder.name, [n for n in names if n in used], out)


def _read_sidecar(folder: Path, images: list[DatasetImage]) -> None:
    """Lookout's `lookout.jsonl` beside its YOLO export: what label files cannot hold
    (sequence, camera, names, split, track ids, false positives), matched by image path."""
    path = folder / SIDECAR
    if not path.is_file():
        return
    by_path = {image.file_name.replace("\\", "/"): image for image in images}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        label = f"{SIDECAR}:{number}"
        try:
            record = json.loads(line) if line.strip() else None
        except json.JSONDecodeError as exc:
            raise bad(f"{label}: not valid JSON ({exc})", "path") from exc
        if isinstance(record, dict) and record.get("path") in by_path:
            _apply_record(by_path[record["path"]], record, label)


def _apply_record(image: DatasetImage, record: dict[str, Any], label: str) -> None:
    """A sidecar line onto its image; track ids only when the label file kept every box."""
    apply_fields(image, record)
    tracks = record.get("track_ids")
    if isinstance(tracks, list) and len(tracks) == len(image.boxes):
        for box, track in zip(image.boxes, tracks, strict=True):
            box.track_id = track
    for k, fp in enumerate(record.get("false_positives") or []):
        image.false_positives.append(false_positive(fp, f"{label}: false_positives[{k}]", image))


def _yolo_image(file_path: Path, folder: Path, root: Path, names: list[str]) -> DatasetImage:
    """One image file with the boxes of its label file (none without one)."""
    shown = str(file_path.relative_to(folder)) if inside(file_path, folder) else file_path.name
    width, height, sha = probe(file_path, shown)
    image = DatasetImage(file_path, shown, width, height, sha256=sha)
    labels = label_path(file_path)
    if labels.is_file():
        _check_inside(labels, root, f"{shown}'s label {labels.name}")
        for number, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                image.boxes.append(_yolo_line(line, f"{labels.name}:{number}", names))
    return image


def _yolo_line(line: str, label: str, names: list[str]) -> DatasetBox:
    """One label line, checked: class in range, box inside the image, confidence in [0, 1]."""
    parts = line.split()
    if len(parts) not in (5, 6):
        raise bad(
            f"{label}: expected `class cx cy w h [confidence]`, got {len(parts)} values "
            "(segmentation and keypoint labels are not imported)",
            "labels",
        )
    try:
        index = int(parts[0])
        values = [float(v) for v in parts[1:]]
    except ValueError as exc:
        raise bad(f"{label}: not numbers: {line.strip()!r}", "labels") from exc
    if not 0 <= index < len(names):
        raise bad(f"{label}: class {index} is not in names (0..{len(names) - 1})", "labels")
    if not all(math.isfinite(v) for v in values):
        raise bad(f"{label}: values must be finite numbers", "labels")
    cx, cy, w, h = values[:4]
    tol = NORMALIZED_TOLERANCE
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if w <= 0 or h <= 0 or min(x1, y1) < -tol or max(x2, y2) > 1 + tol:
        raise bad(f"{label}: box {values[:4]} lies outside the image or has no area", "labels")
    confidence = values[4] if len(values) == 5 else None
    if confidence is not None and not 0 <= confidence <= 1:
        raise bad(f"{label}: confidence must be between 0 and 1", "labels")
    box = clip((x1, y1, x2, y2))
    return DatasetBox(
        names[index], box, confidence=confidence, data={"bbox": list(box), "format": "xyxyn"}
    )


# --- Writing -------------------------------------------------------------------------------


class YoloWriter(Writer):
    """Ultralytics layout: images/<split>/, labels/<split>/ (class cx cy w h), data.yaml."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.per_split = dict.fromkeys(SPLITS, 0)
        self.sidecar = spool()

    def image_path(self, item: Item) -> str:
        """images/<split>/<name>."""
        return f"images/{item.split}/{item.name}"

    def add(self, item: Item) -> None:
        """Write the image's label file (empty for a negative)."""
        super().add(item)
        lines = []
        for box in item.boxes:
            x1, y1, x2, y2 = box.xyxyn
            lines.append(
                f"{self.class_index[box.class_name]} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} "
                f"{x2 - x1:.6f} {y2 - y1:.6f}\n"
            )
        self.sink.write_bytes(f"labels/{item.split}/{item.stem}.txt", "".join(lines).encode())
        self.per_split[item.split] += 1
        # Label files hold classes and boxes only: the rest goes to the sidecar.
        self.sidecar.write(json_bytes(sidecar_record(item, self.image_path(item))) + b"\n")

    def _data(self) -> dict[str, Any]:
        """data.yaml's settings: split folders, class count and names."""
        present = [s for s in SPLITS if self.per_split[s]]
        data: dict[str, Any] = {}
        for split in ("train", "val"):
            # Ultralytics needs train and val: an empty one points at the other.
            fallback = next(iter(present), "train")
            data[split] = f"images/{split if self.per_split[split] else fallback}"
        # Always there, as in Ultralytics' own dataset files: empty when no frame is in test.
        data["test"] = "images/test" if self.per_split["test"] else None
        data["nc"] = len(self.classes)
        data["names"] = dict(enumerate(self.classes))
        return data

    def _comment(self) -> str:
        """data.yaml's leading comment: where it comes from, paths, images per split."""
        comment = (
            f"# Lookout export of project {self.info.project_name} ({self.info.source}).\n"
            "# Paths are relative to this file's folder: add `path: <absolute folder>` if your\n"
            "# trainer resolves them elsewhere. Images per split: "
            + ", ".join(f"{s} {self.per_split[s]}" for s in SPLITS)
            + ".\n"
        )
        if self.info.images == "reference":
            comment += "# Images are referenced, not copied: manifest.csv lists their URLs.\n"
        return comment

    def finish(self) -> None:
        """Write data.yaml (Ultralytics), the same as dataset.yaml (the name FiftyOne's YOLOv5
        importer looks for), the sidecar and the manifest."""
        body = (
            self._comment() + yaml.safe_dump(self._data(), sort_keys=False, allow_unicode=True)
        ).encode()
        self.sink.write_bytes("data.yaml", body)
        self.sink.write_bytes("dataset.yaml", body)
        self.sink.write_file(SIDECAR, self.sidecar)
        self.sidecar.close()
        super().finish()
