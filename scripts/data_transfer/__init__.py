"""Data transfer scripts."""
