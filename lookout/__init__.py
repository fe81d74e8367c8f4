"""Lookout: reviewed training data from camera detections."""

__version__ = "0.1.0"
