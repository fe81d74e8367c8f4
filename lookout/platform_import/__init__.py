"""Import sequences and detections from the Pyronear alert platform into Lookout, over HTTP.

A client package: it talks to the platform and to a Lookout server over HTTP only and imports
nothing else from ``lookout`` but ``lookout.httpretry``, the client-side retry helper.
"""

from lookout.httpretry import RetryPolicy
from lookout.platform_import.boxes import BoxParseError, ParsedBox, parse_bboxes

__all__ = ["BoxParseError", "ParsedBox", "RetryPolicy", "parse_bboxes"]
