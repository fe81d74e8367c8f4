"""`lookout worker`: run the ONNX detection worker against a Lookout server."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from lookout.worker.config import ModelSpec, WorkerConfig


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


# The command's options (their flags, help and environment variables).

ModelOption = Annotated[
    Path | None,
    typer.Option(
        help="ONNX model file (YOLOv8/YOLO11 layout); served as --model-name.",
        envvar="LOOKOUT_WORKER_MODEL",
    ),
]
ModelNameOption = Annotated[str, typer.Option(help="Model name the analyses were queued with.")]
ModelVersionOption = Annotated[
    str | None, typer.Option(help="Only analyses of this version (default: any).")
]
ServeOption = Annotated[
    list[str] | None,
    typer.Option(help="More models: NAME=PATH or NAME@VERSION=PATH (repeat)."),
]
UrlOption = Annotated[str, typer.Option(help="Lookout server.", envvar="LOOKOUT_URL")]
HmacSecretOption = Annotated[
    str | None,
    typer.Option(
        help="Callback secret (prefer the environment variable).",
        envvar="ML_CALLBACK_HMAC_SECRET",
        show_default=False,
    ),
]
KeyIdOption = Annotated[
    str | None,
    typer.Option(help="Name of the secret on the server.", envvar="ML_CALLBACK_HMAC_KEY_ID"),
]
ProjectIdOption = Annotated[str | None, typer.Option(help="Only this project's analyses.")]
BatchSizeOption = Annotated[int, typer.Option(min=1, max=100, help="Analyses per claim.")]
ConcurrencyOption = Annotated[int, typer.Option(min=1, help="Analyses processed at once.")]
LeaseSecondsOption = Annotated[int, typer.Option(min=1, help="Lease of a claimed analysis.")]
HeartbeatSecondsOption = Annotated[
    float | None, typer.Option(help="Heartbeat interval (default: a third of the lease).")
]
PollSecondsOption = Annotated[float, typer.Option(help="Wait when the queue is empty.")]
MaxPollSecondsOption = Annotated[float, typer.Option(help="Longest wait between polls.")]
LimitOption = Annotated[int | None, typer.Option(min=1, help="Stop after N analyses.")]
DrainOption = Annotated[bool, typer.Option("--drain", help="Stop when the queue is empty.")]
ConfidenceOption = Annotated[float, typer.Option(help="Minimum confidence of a box.")]
IouOption = Annotated[float, typer.Option(help="IoU threshold of class-wise NMS.")]
MaxDetectionsOption = Annotated[int, typer.Option(help="Most boxes kept per image.")]
ClassesOption = Annotated[
    str | None,
    typer.Option(help="Class names 'a,b,c' or @file (default: the model's metadata)."),
]
WorkerIdOption = Annotated[
    str | None, typer.Option(help="Name of this worker (default: host-pid).")
]
OverlayOption = Annotated[bool, typer.Option(help="Upload detections.png with the boxes.")]
ProgressOption = Annotated[
    bool | None, typer.Option(help="Progress bar (default: when stderr is a terminal).")
]
ThreadsOption = Annotated[int, typer.Option(help="onnxruntime threads per model (0 = auto).")]
LogLevelOption = Annotated[str, typer.Option(help="debug, info, warning or error.")]
PauseAfterClaimOption = Annotated[
    float | None, typer.Option(hidden=True, help="Test hook: sleep after claiming.")
]


def worker(
    model: ModelOption = None,
    model_name: ModelNameOption = "yolo_v8",
    model_version: ModelVersionOption = None,
    serve: ServeOption = None,
    url: UrlOption = "http://127.0.0.1:5050",
    hmac_secret: HmacSecretOption = None,
    key_id: KeyIdOption = None,
    project_id: ProjectIdOption = None,
    batch_size: BatchSizeOption = 4,
    concurrency: ConcurrencyOption = 1,
    lease_seconds: LeaseSecondsOption = 120,
    heartbeat_seconds: HeartbeatSecondsOption = None,
    poll_seconds: PollSecondsOption = 2.0,
    max_poll_seconds: MaxPollSecondsOption = 30.0,
    limit: LimitOption = None,
    drain: DrainOption = False,
    confidence: ConfidenceOption = 0.25,
    iou: IouOption = 0.45,
    max_detections: MaxDetectionsOption = 300,
    classes: ClassesOption = None,
    worker_id: WorkerIdOption = None,
    overlay: OverlayOption = True,
    progress: ProgressOption = None,
    threads: ThreadsOption = 0,
    log_level: LogLevelOption = "info",
    pause_after_claim: PauseAfterClaimOption = None,
) -> None:
    """Claim queued analyses and run an ONNX object detector on them (see docs/worker.md).

    Exit codes: 0 all done, 1 some analyses failed, 2 bad settings, 3 no usable model,
    4 the server refused or could not be reached, 130 interrupted twice.
    """
    from lookout.worker import runner

    err = _stderr_console()
    try:
        config = runner.WorkerConfig(
            api_url=url,
            hmac_secret=hmac_secret or "",
            key_id=key_id,
            models=_models(model, model_name, model_version, serve),
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
    raise typer.Exit(_run(config, log_level, err))


def _models(
    model: Path | None, model_name: str, model_version: str | None, serve: list[str] | None
) -> list[ModelSpec]:
    """The models to serve: --model as --model-name (and --model-version), then each --serve."""
    from lookout.worker import runner

    specs = (
        [runner.ModelSpec(model_name.strip(), model.expanduser(), model_version)]
        if model is not None
        else []
    )
    return specs + [runner.ModelSpec.parse(text) for text in serve or []]


def _run(config: WorkerConfig, log_level: str, err: Any) -> int:
    """Run a worker with this configuration until it ends; its exit code."""
    from lookout.worker import runner

    show = config.progress if config.progress is not None else sys.stderr.isatty()
    config.progress = show
    configure_logging(log_level, err if show else None)
    instance = runner.Worker(config, console=err)
    install_signal_handlers(instance)
    try:
        return instance.run()
    finally:
        instance.close()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
