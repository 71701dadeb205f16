"""Tests of the trainings domain: the nightly stage, the catalogue and the API."""
