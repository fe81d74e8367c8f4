"""A fake pyro-annotator annotation API (FastAPI) for tests and developers.

Stand-alone: imports nothing else from ``lookout``. `python -m lookout.fake_annotator`
serves the demo data on 127.0.0.1:8788.
"""

from lookout.fake_annotator.app import FakeAnnotatorState, create_app
from lookout.fake_annotator.data import FakeAnnotatorData, demo_data, demo_data_2025
from lookout.fake_annotator.server import RunningFakeAnnotator, main, start_fake_annotator

__all__ = [
    "FakeAnnotatorData",
    "FakeAnnotatorState",
    "RunningFakeAnnotator",
    "create_app",
    "demo_data",
    "demo_data_2025",
    "main",
    "start_fake_annotator",
]
