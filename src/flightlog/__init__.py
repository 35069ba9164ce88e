"""Flightlog: the tamper-evident audit trail for continuous deployment."""

__version__ = "0.1.0"
