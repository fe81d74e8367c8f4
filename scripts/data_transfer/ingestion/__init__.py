"""Ingestion scripts."""
