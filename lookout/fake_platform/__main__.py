"""``python -m lookout.fake_platform``: serve the fake platform from a shell."""

from __future__ import annotations

import argparse
from typing import Any

from lookout.fake_platform.server import main


def _size(text: str) -> tuple[int, int]:
    """Parse ``640x480``."""
    w, h = text.lower().split("x")
    return int(w), int(h)


def parse_args(argv: list[str] | None = None) -> tuple[str, int, dict[str, Any]]:
    """Command line -> (host, port, config fields)."""
    p = argparse.ArgumentParser(prog="python -m lookout.fake_platform", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--organizations", type=int, default=2)
    p.add_argument("--cameras-per-org", type=int, default=2)
    p.add_argument("--days", help="comma-separated ISO dates (overrides --start-date/--num-days)")
    p.add_argument("--start-date", default="2024-01-01")
    p.add_argument("--num-days", type=int, default=3)
    p.add_argument("--sequences-per-camera-per-day", type=int, default=2)
    p.add_argument("--detections-per-sequence", type=int, default=4)
    p.add_argument("--image-size", type=_size, default=(640, 480), help="WxH, e.g. 640x480")
    p.add_argument("--schema", choices=("2025", "later"), default="2025")
    p.add_argument("--default-page-limit", type=int, default=15)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction of 500/502/503 answers")
    p.add_argument("--rate-limit-rate", type=float, default=0.0, help="fraction of 429 answers")
    p.add_argument("--timeout-rate", type=float, default=0.0, help="fraction of requests that hang")
    p.add_argument(
        "--timeout-hang", type=float, default=30.0, help="how long a hanging request hangs"
    )
    p.add_argument(
        "--drop-rate", type=float, default=0.0, help="fraction of connections closed unanswered"
    )
    p.add_argument(
        "--token-ttl", type=float, default=None, help="tokens expire after this many seconds"
    )
    p.add_argument(
        "--expire-tokens-at",
        type=int,
        default=None,
        help="every token issued so far expires once this many requests were received",
    )
    p.add_argument(
        "--broken-image",
        type=int,
        action="append",
        default=[],
        help="detection id whose image 404s",
    )
    p.add_argument(
        "--fault-path", action="append", default=None, help="only fault paths with this prefix"
    )
    p.add_argument(
        "--faults-on-login", action="store_true", help="let faults hit the login endpoint too"
    )
    a = p.parse_args(argv)
    config = {
        "seed": a.seed,
        "organizations": a.organizations,
        "cameras_per_org": a.cameras_per_org,
        "days": a.days.split(",") if a.days else None,
        "start_date": a.start_date,
        "num_days": a.num_days,
        "sequences_per_camera_per_day": a.sequences_per_camera_per_day,
        "detections_per_sequence": a.detections_per_sequence,
        "image_size": a.image_size,
        "schema": a.schema,
        "default_page_limit": a.default_page_limit,
        "latency_s": a.latency,
        "error_rate": a.error_rate,
        "rate_limit_rate": a.rate_limit_rate,
        "timeout_rate": a.timeout_rate,
        "timeout_hang_s": a.timeout_hang,
        "drop_rate": a.drop_rate,
        "token_ttl_s": a.token_ttl,
        "expire_tokens_at_request": a.expire_tokens_at,
        "broken_image_detection_ids": set(a.broken_image),
        "fault_paths": tuple(a.fault_path) if a.fault_path else None,
        "faults_on_login": a.faults_on_login,
    }
    return a.host, a.port, config


if __name__ == "__main__":
    host, port, config = parse_args()
    main(host=host, port=port, **config)
