"""The review queue: who reviews which sequence now, skips, and what reviewers did."""
