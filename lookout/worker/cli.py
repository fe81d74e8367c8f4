"""`lookout worker`: run the ONNX detection worker against a Lookout server."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def configure_logging(level: str, rich_console: Any | None) -> None:
    handlers: list[logging.Handler]
    if rich_console is not None:
        from rich.logging import RichHandler

        handlers = [RichHandler(console=rich_console, show_path=False, rich_tracebacks=False)]
        fmt = "%(message)s"
    else:
        handlers = [logging.StreamHandler(sys.stderr)]
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level.upper(), format=fmt, handlers=handlers, force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def install_signal_handlers(worker: Any) -> None:
    """First SIGINT/SIGTERM: stop gracefully. Second: quit at once (exit 130)."""
    from lookout.worker.runner import EXIT_INTERRUPTED

    log = logging.getLogger("lookout.worker")

    def handle(signum: int, _frame: Any) -> None:
        if worker.stopping:
            log.error("second signal: quitting now; held analyses go back after their lease")
            logging.shutdown()
            os._exit(EXIT_INTERRUPTED)
        log.warning(
            "%s: finishing the analyses in progress and releasing the others "
            "(signal again to quit now)",
            signal.Signals(signum).name,
        )
        worker.stop()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _classes(value: str | None) -> list[str] | None:
    """Class names: "a,b,c", or @file with one name per line."""
    if not value:
        return None
    if value.startswith("@"):
        lines = Path(value[1:]).expanduser().read_text().splitlines()
        return [line.strip() for line in lines if line.strip()]
    return [name.strip() for name in value.split(",") if name.strip()]


def worker(
    model: Annotated[
        Path | None,
        typer.Option(
            help="ONNX model file (YOLOv8/YOLO11 layout); served as --model-name.",
            envvar="LOOKOUT_WORKER_MODEL",
        ),
    ] = None,
    model_name: Annotated[str, typer.Option(help="Model name the analyses were queued with.")] = (
        "yolo_v8"
    ),
    model_version: Annotated[
        str | None, typer.Option(help="Only analyses of this version (default: any).")
    ] = None,
    serve: Annotated[
        list[str] | None,
        typer.Option(help="More models: NAME=PATH or NAME@VERSION=PATH (repeat)."),
    ] = None,
    url: Annotated[str, typer.Option(help="Lookout server.", envvar="LOOKOUT_URL")] = (
        "http://127.0.0.1:5050"
    ),
    hmac_secret: Annotated[
        str | None,
        typer.Option(
            help="Callback secret (prefer the environment variable).",
            envvar="ML_CALLBACK_HMAC_SECRET",
            show_default=False,
        ),
    ] = None,
    key_id: Annotated[
        str | None,
        typer.Option(help="Name of the secret on the server.", envvar="ML_CALLBACK_HMAC_KEY_ID"),
    ] = None,
    project_id: Annotated[str | None, typer.Option(help="Only this project's analyses.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100, help="Analyses per claim.")] = 4,
    concurrency: Annotated[int, typer.Option(min=1, help="Analyses processed at once.")] = 1,
    lease_seconds: Annotated[int, typer.Option(min=1, help="Lease of a claimed analysis.")] = 120,
    heartbeat_seconds: Annotated[
        float | None, typer.Option(help="Heartbeat interval (default: a third of the lease).")
    ] = None,
    poll_seconds: Annotated[float, typer.Option(help="Wait when the queue is empty.")] = 2.0,
    max_poll_seconds: Annotated[float, typer.Option(help="Longest wait between polls.")] = 30.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after N analyses.")] = None,
    drain: Annotated[bool, typer.Option("--drain", help="Stop when the queue is empty.")] = False,
    confidence: Annotated[float, typer.Option(help="Minimum confidence of a box.")] = 0.25,
    iou: Annotated[float, typer.Option(help="IoU threshold of class-wise NMS.")] = 0.45,
    max_detections: Annotated[int, typer.Option(help="Most boxes kept per image.")] = 300,
    classes: Annotated[
        str | None,
        typer.Option(help="Class names 'a,b,c' or @file (default: the model's metadata)."),
    ] = None,
    worker_id: Annotated[
        str | None, typer.Option(help="Name of this worker (default: host-pid).")
    ] = None,
    overlay: Annotated[bool, typer.Option(help="Upload detections.png with the boxes.")] = True,
    progress: Annotated[
        bool | None, typer.Option(help="Progress bar (default: when stderr is a terminal).")
    ] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime threads per model (0 = auto).")] = 0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    pause_after_claim: Annotated[
        float | None, typer.Option(hidden=True, help="Test hook: sleep after claiming.")
    ] = None,
) -> None:
    """Claim queued analyses and run an ONNX object detector on them (see docs/worker.md).

    Exit codes: 0 all done, 1 some analyses failed, 2 bad settings, 3 no usable model,
    4 the server refused or could not be reached, 130 interrupted twice.
    """
    from lookout.worker import runner

    err = _stderr_console()
    try:
        specs = (
            [runner.ModelSpec(model_name.strip(), model.expanduser(), model_version)]
            if (model is not None)
            else []
        )
        specs += [runner.ModelSpec.parse(text) for text in serve or []]
        config = runner.WorkerConfig(
            api_url=url,
            hmac_secret=hmac_secret or "",
            key_id=key_id,
            models=specs,
            worker_id=worker_id or runner.default_worker_id(),
            project_id=project_id,
            batch_size=batch_size,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            heartbeat_seconds=heartbeat_seconds,
            poll_seconds=poll_seconds,
            max_poll_seconds=max_poll_seconds,
            limit=limit,
            drain=drain,
            confidence=confidence,
            iou=iou,
            max_detections=max_detections,
            class_names=_classes(classes),
            overlay=overlay,
            progress=progress,
            threads_per_model=threads,
            pause_after_claim=(
                pause_after_claim if pause_after_claim is not None else runner.pause_from_env()
            ),
        )
        config.validate()
    except (runner.ConfigError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(runner.EXIT_CONFIG) from exc
    show = progress if progress is not None else sys.stderr.isatty()
    config.progress = show
    configure_logging(log_level, err if show else None)
    instance = runner.Worker(config, console=err)
    install_signal_handlers(instance)
    try:
        code = instance.run()
    finally:
        instance.close()
    raise typer.Exit(code)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
