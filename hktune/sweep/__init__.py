"""Sweep: re-verify and re-time a results table (CI regression gate)."""
