"""Run a YOLOv8 / YOLO11 ONNX model over a Lookout project: queue it, then work the queue.

    export ML_CALLBACK_HMAC_SECRET=...        # the server's callback secret
    export API_KEY=lk_...                     # optional on a local-mode server
    export YOLO_MODEL_PATH=/models/yolov8n.onnx
    uv run python scripts/yolov8_ml_pipeline.py <project_id> --limit 5

1. queues one analysis of the model per image of the project that has none yet
   (`POST /api/projects/{id}/analyses:queue`, at most --limit), then
2. runs Lookout's worker on that project until those analyses are done: each image is
   downloaded, letterboxed, run through the model (onnxruntime), its boxes posted, an overlay
   PNG uploaded and the analysis finalized with a summary.

Nothing is downloaded: the model is the ONNX file you name (--model or YOLO_MODEL_PATH). Exit
codes: 0 done, 1 some analyses failed, 2 bad settings, 3 the model cannot be loaded, 4 the server
refused or could not be reached. See scripts/README_YOLOV8.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout, too

from lookout.pipeline import LookoutAPIError  # noqa: E402
from lookout.pipeline.queue import QueueClient  # noqa: E402

EXIT_CONFIG = 2
EXIT_SERVER = 4


def load_env_files(*paths: Path) -> None:
    """KEY=VALUE lines of .env files, for variables not set already (`source .env` without
    `export` does not reach child processes, so the script reads the file itself)."""
    for path in paths:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.removeprefix("export ").split("=", 1)
            key, value = key.strip(), value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            os.environ.setdefault(key, value)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Queue a YOLO ONNX model over a Lookout project and run it.",
        epilog="Settings from the environment or .env: ML_CALLBACK_HMAC_SECRET, API_KEY, "
        "LOOKOUT_URL, YOLO_MODEL_PATH.",
    )
    parser.add_argument("project_id", help="UUID of the Lookout project")
    parser.add_argument(
        "--limit", type=int, default=None, help="analyze at most N images (default: all)"
    )
    parser.add_argument("--model", default=None, help="ONNX model file (default: $YOLO_MODEL_PATH)")
    parser.add_argument("--model-name", default="yolo_v8", help="default: yolo_v8")
    parser.add_argument(
        "--model-version", default=None, help="default: the file's name and the start of its sha256"
    )
    parser.add_argument(
        "--api-url",
        default=None,
        help="Lookout server (default: $LOOKOUT_URL or http://localhost:5050)",
    )
    parser.add_argument("--confidence", type=float, default=0.25, help="default: 0.25")
    parser.add_argument("--iou", type=float, default=0.45, help="NMS IoU (default: 0.45)")
    parser.add_argument("--batch-size", type=int, default=4, help="analyses per claim")
    parser.add_argument("--concurrency", type=int, default=1, help="images processed at once")
    parser.add_argument("--sequence-id", default=None, help="only this sequence of the project")
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="queue again the images whose earlier run failed",
    )
    parser.add_argument("--no-overlay", action="store_true", help="skip detections.png")
    parser.add_argument("--log-level", default="info", help="debug, info, warning, error")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    load_env_files(Path.cwd() / ".env", ROOT / ".env")
    args = parse_args(argv)
    model = args.model or os.environ.get("YOLO_MODEL_PATH")
    if not model:
        print(
            "error: no model: pass --model PATH or set YOLO_MODEL_PATH to an ONNX export of "
            "YOLOv8/YOLO11 (e.g. `yolo export model=yolov8n.pt format=onnx`); this script "
            "never downloads one",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    model_path = Path(model).expanduser()
    if not model_path.is_file():
        print(f"error: model file not found: {model_path}", file=sys.stderr)
        return EXIT_CONFIG
    secret = os.environ.get("ML_CALLBACK_HMAC_SECRET")
    if not secret:
        print("error: set ML_CALLBACK_HMAC_SECRET (the server's callback secret)", file=sys.stderr)
        return EXIT_CONFIG
    api_url = args.api_url or os.environ.get("LOOKOUT_URL") or "http://localhost:5050"

    from lookout.worker import runner
    from lookout.worker.cli import configure_logging, install_signal_handlers
    from lookout.worker.detector import file_sha256

    version = args.model_version or f"{model_path.stem}-{file_sha256(model_path)[:8]}"
    print(f"model {args.model_name} {version} from {model_path}")
    parameters = {"confidence_threshold": args.confidence, "iou_threshold": args.iou}
    try:
        with QueueClient(
            api_url, secret, api_key=os.environ.get("API_KEY") or None, retries=3
        ) as client:
            queued = client.queue(
                args.project_id,
                args.model_name,
                version,
                parameters=parameters,
                sequence_id=args.sequence_id,
                limit=args.limit,
                retry_failed=args.retry_failed,
            )
    except LookoutAPIError as exc:
        print(f"error: could not queue the model: Lookout answered {exc}", file=sys.stderr)
        return EXIT_SERVER
    except Exception as exc:  # connection refused, timeouts...: report, don't trace
        print(f"error: could not reach {api_url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SERVER
    print(
        f"queued {queued['queued']} analyses ({queued['already_present']} images already had one)"
    )

    config = runner.WorkerConfig(
        api_url=api_url,
        hmac_secret=secret,
        key_id=os.environ.get("ML_CALLBACK_HMAC_KEY_ID"),
        models=[runner.ModelSpec(args.model_name, model_path, version)],
        project_id=args.project_id,
        limit=args.limit,
        drain=True,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        confidence=args.confidence,
        iou=args.iou,
        overlay=not args.no_overlay,
        pause_after_claim=runner.pause_from_env(),
    )
    try:
        config.validate()
    except runner.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    show = sys.stderr.isatty()
    config.progress = show
    from rich.console import Console

    console = Console(stderr=True)
    configure_logging(args.log_level, console if show else None)
    logging.getLogger("lookout.worker").info("processing the queue of project %s", args.project_id)
    worker = runner.Worker(config, console=console)
    install_signal_handlers(worker)
    try:
        code = worker.run()
    finally:
        worker.close()
    s = worker.stats
    print(
        f"done: {s.completed} completed, {s.failed} failed, {s.detections} detections "
        f"(exit code {code})"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
