"""Trainings: the catalogue, suggestions from adoption gaps (a nightly stage) and their measured effect."""
