"""exness-py: an Exness-style leveraged CFD trading platform."""

__version__ = "0.1.0"
