"""The fake platform for the import benchmark, in a process of its own (`python -m
bench.platform --port P --latency 0.02 ...`).

The platform stands in for a remote service, so its own work should not weigh on the machine
under test: every frame is rendered before the run (in parallel) and kept in memory. It also
answers `GET /__bench__/stats` (request counts, to compute the lower bound) and
`POST /__bench__/reset`; benchmark-only routes, outside the fake platform's own API.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import uvicorn

from lookout.fake_platform import app as platform_app
from lookout.fake_platform.data import FakePlatformConfig, generate, render_jpeg


def _render(args: tuple[Any, Any, tuple[int, int], int]) -> bytes:
    return render_jpeg(*args)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--organizations", type=int, default=2)
    parser.add_argument("--cameras-per-org", type=int, default=5)
    parser.add_argument("--num-days", type=int, default=2)
    parser.add_argument("--sequences-per-camera-per-day", type=int, default=10)
    parser.add_argument("--detections-per-sequence", type=int, default=10)
    args = parser.parse_args()
    config = FakePlatformConfig(
        organizations=args.organizations,
        cameras_per_org=args.cameras_per_org,
        num_days=args.num_days,
        sequences_per_camera_per_day=args.sequences_per_camera_per_day,
        detections_per_sequence=args.detections_per_sequence,
        latency_s=args.latency,
    )
    data = generate(config)
    platform_app.IMAGE_CACHE_SIZE = len(data.detections) + 16  # hold every frame
    app = platform_app.create_app(config)
    state = app.state.platform
    dets = list(data.detections.values())
    size = tuple(config.image_size)
    jobs = [(data.cameras[d.camera_id], d, size, config.seed) for d in dets]
    with ProcessPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        frames = list(pool.map(_render, jobs, chunksize=32))
    for det, jpeg in zip(dets, frames, strict=True):
        key = (config.data_key(), det.id, size)
        state._images[key] = jpeg  # what FakePlatformState.image would have rendered

    @app.get("/__bench__/stats", include_in_schema=False)
    def stats() -> dict[str, Any]:
        return state.stats.snapshot()

    @app.post("/__bench__/reset", include_in_schema=False)
    def reset() -> dict[str, str]:
        state.stats.reset()
        return {"status": "ok"}

    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
