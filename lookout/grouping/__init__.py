"""Recurring objects: tracks of one camera at the same place across days, labelled once."""
