"""Metrics: pure functions over arrays and lists (no model code). Text: classification.py, seqeval.py, squad.py."""
