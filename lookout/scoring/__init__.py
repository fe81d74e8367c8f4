"""Stored scores that order the review queue: model disagreement and uncertainty."""
