"""The worker's settings: the models it serves, its options and their checks, its exit codes."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK = 0  # everything claimed was completed (or there was nothing to do)
EXIT_FAILURES = 1  # the run finished, but some analyses were finalized as failed
EXIT_CONFIG = 2  # bad settings: no secret, missing model file, bad option
EXIT_NO_MODEL = 3  # none of the models could be loaded
EXIT_SERVER = 4  # the server refused the worker (secret, URL) or could not be reached
EXIT_INTERRUPTED = 130  # stopped at once by a second Ctrl-C

PAUSE_ENV = "LOOKOUT_WORKER_PAUSE_AFTER_CLAIM"


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which."""


@dataclass(frozen=True)
class ModelSpec:
    """A model the worker serves: analyses named `name` (and `version`, if given) → `path`."""

    name: str
    path: Path
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """`name=path` or `name@version=path`."""
        target, sep, path = text.partition("=")
        if not sep or not target.strip() or not path.strip():
            raise ConfigError(f"--serve {text!r}: use NAME=PATH or NAME@VERSION=PATH")
        name, _, version = target.partition("@")
        return cls(name.strip(), Path(path.strip()).expanduser(), version.strip() or None)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else self.name


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerConfig:
    api_url: str
    hmac_secret: str
    models: list[ModelSpec]
    key_id: str | None = None
    worker_id: str = field(default_factory=default_worker_id)
    project_id: str | None = None
    batch_size: int = 4
    concurrency: int = 1
    lease_seconds: int = 120
    heartbeat_seconds: float | None = None  # default: a third of the lease
    poll_seconds: float = 2.0
    max_poll_seconds: float = 30.0
    limit: int | None = None
    drain: bool = False
    confidence: float = 0.25
    iou: float = 0.45
    max_detections: int = 300
    class_names: list[str] | None = None
    overlay: bool = True
    progress: bool | None = None  # None: when stderr is a terminal
    threads_per_model: int = 0
    pause_after_claim: float = 0.0  # test hook: sleep after claiming, before working
    retries: int = 5
    timeout: float = 30.0

    def validate(self) -> None:
        """Raise ConfigError naming the first wrong setting."""
        if not self.hmac_secret:
            raise ConfigError(
                "no callback secret: set ML_CALLBACK_HMAC_SECRET (the server's secret) or pass "
                "--hmac-secret"
            )
        if not self.models:
            raise ConfigError("no model to serve: pass --model PATH (or --serve NAME=PATH)")
        for spec in self.models:
            if not spec.path.is_file():
                raise ConfigError(f"model file not found: {spec.path} (for model {spec.label})")
        labels = [spec.label for spec in self.models]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"a model is served twice: {', '.join(labels)}")
        checks = [
            (self.batch_size >= 1, "batch size must be at least 1"),
            (self.batch_size <= 100, "batch size must be at most 100"),
            (self.concurrency >= 1, "concurrency must be at least 1"),
            (self.lease_seconds >= 1, "lease must be at least 1 second"),
            (self.limit is None or self.limit >= 1, "limit must be at least 1"),
            (0.0 <= self.confidence <= 1.0, "confidence must be between 0 and 1"),
            (0.0 < self.iou <= 1.0, "iou must be in (0, 1]"),
            (self.max_detections >= 1, "max detections must be at least 1"),
            (self.poll_seconds > 0, "poll interval must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def heartbeat_interval(self) -> float:
        return self.heartbeat_seconds or max(0.2, self.lease_seconds / 3)


def pause_from_env() -> float:
    """The test hook's pause, from LOOKOUT_WORKER_PAUSE_AFTER_CLAIM (seconds)."""
    try:
        return max(0.0, float(os.environ.get(PAUSE_ENV, "0") or 0))
    except ValueError:
        return 0.0
