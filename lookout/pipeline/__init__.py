"""Client SDK for pipelines that post ML analyses to Lookout.

    from lookout.pipeline import LookoutPipelineClient

    with LookoutPipelineClient("http://localhost:5050", hmac_secret, api_key=api_key) as client:
        analysis = client.create_analysis(image_id, "yolo_v8", "v8.0.0")
        client.update_status(analysis["id"], "processing")
        client.upload_file(analysis["id"], "detections.png", "detections.png", "image/png")
        client.submit_annotations(analysis["id"], annotations)
        client.finalize_analysis(analysis["id"], summary={"total_detections": 1})

This package needs only the standard library, httpx and tenacity; from Lookout it imports only
`lookout.httpretry` (the client-side retry helper, httpx and tenacity too), so the two can be
vendored into a pipeline.
"""

from lookout.pipeline.client import LookoutAPIError, LookoutPipelineClient
from lookout.pipeline.signing import sign_request, string_to_sign

__all__ = ["LookoutAPIError", "LookoutPipelineClient", "sign_request", "string_to_sign"]
