"""Nagara: citizen services for a state's local governments."""

__version__ = "0.1.0"
