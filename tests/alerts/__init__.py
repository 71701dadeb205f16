"""Tests of the pure decisions in alerts/."""
