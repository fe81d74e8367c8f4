"""A fake Pyronear alert platform (FastAPI) for tests and developers.

Stand-alone: imports nothing else from ``lookout``.
"""

from lookout.fake_platform.app import FakePlatformState, FakePlatformStats, create_app
from lookout.fake_platform.data import Expected, FakePlatformConfig, expected, generate
from lookout.fake_platform.server import RunningFakePlatform, main, start_fake_platform

__all__ = [
    "Expected",
    "FakePlatformConfig",
    "FakePlatformState",
    "FakePlatformStats",
    "RunningFakePlatform",
    "create_app",
    "expected",
    "generate",
    "main",
    "start_fake_platform",
]
