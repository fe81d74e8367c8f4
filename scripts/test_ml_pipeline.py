"""Check a Lookout server end to end with the ML pipeline SDK: the six steps on one image.

    export ML_CALLBACK_HMAC_SECRET='your-secret'
    export API_KEY='your-api-key'
    python scripts/test_ml_pipeline.py --image-id <image_uuid> [--api-url http://localhost:5050]

Creates an analysis, marks it processing, uploads a generated PNG through a presigned URL,
posts one bounding box and finalizes; prints each step and exits 0 on success, 1 on failure.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too

from lookout.pipeline import LookoutAPIError, LookoutPipelineClient


def make_png(width: int = 64, height: int = 48) -> bytes:
    """A small striped PNG made with the standard library only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00"
        + b"".join(bytes((255, 80, 0) if (x // 8) % 2 else (20, 20, 20)) for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-id", required=True, help="UUID of an image in Lookout")
    default_url = os.environ.get("LOOKOUT_URL", "http://localhost:5050")
    parser.add_argument(
        "--api-url", default=default_url, help="Lookout server (default: $LOOKOUT_URL or :5050)"
    )
    parser.add_argument("--model-name", default="test_model", help="must be in ML_ALLOWED_MODELS")
    parser.add_argument("--model-version", default="1.0.0")
    parser.add_argument(
        "--key-id",
        default=os.environ.get("ML_CALLBACK_HMAC_KEY_ID"),
        help="name of the secret, when the server has several",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace, secret: str, api_key: str | None) -> dict:
    client = LookoutPipelineClient(
        args.api_url, secret, api_key=api_key, key_id=args.key_id, retries=3
    )
    with client:
        started = time.perf_counter()
        print(f"1. creating analysis of image {args.image_id} ...")
        analysis = client.create_analysis(
            args.image_id,
            args.model_name,
            args.model_version,
            parameters={"confidence_threshold": 0.5},
            description="scripts/test_ml_pipeline.py",
        )
        analysis_id = analysis["id"]
        print(f"   analysis {analysis_id} is {analysis['status']}")

        print("2. status -> processing ...")
        print(f"   {client.update_status(analysis_id, 'processing')['status']}")

        print("3. requesting a presigned URL for detections.png ...")
        png = make_png()
        artifacts = [
            {"artifact_name": "detections.png", "content_type": "image/png", "size": len(png)}
        ]
        [entry] = client.request_presigned_urls(analysis_id, artifacts)["presigned_urls"]
        print(f"   expires in {entry['expires_in']} s")

        print(f"4. uploading {len(png)} bytes ...")
        client.upload_artifact(entry["upload_url"], png, "image/png")
        print("   uploaded")

        print("5. submitting 1 annotation ...")
        box = {
            "annotation_type": "bounding_box",
            "class_name": "smoke",
            "confidence": 0.9,
            "data": {"bbox": [10, 10, 20, 15], "format": "xywh"},
        }
        created = client.submit_annotations(analysis_id, [box])
        print(f"   created {created['created_count']}")

        print("6. finalizing ...")
        summary = {
            "total_detections": 1,
            "processing_time_seconds": round(time.perf_counter() - started, 3),
        }
        final = client.finalize_analysis(analysis_id, "completed", summary)
        print(f"   {final['status']} at {final['completed_at']}")
        return client.get_analysis(analysis_id)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    secret = os.environ.get("ML_CALLBACK_HMAC_SECRET")
    if not secret:
        print("error: set ML_CALLBACK_HMAC_SECRET (the server's callback secret)", file=sys.stderr)
        return 1
    api_key = os.environ.get("API_KEY") or None
    try:
        analysis = run(args, secret, api_key)
    except LookoutAPIError as exc:
        print(f"FAILED: Lookout answered {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # connection refused, timeouts...: report, don't trace
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    ok = analysis["status"] == "completed" and analysis["annotations_total"] == 1
    print("OK: pipeline round trip succeeded" if ok else f"FAILED: unexpected state {analysis}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
