"""The package version, importable by every stage (the tracer keys its cache on it)."""

__version__ = "0.1.0"
