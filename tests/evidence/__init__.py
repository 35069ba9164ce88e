"""Tests of flightlog.evidence and the pipeline CI context."""
