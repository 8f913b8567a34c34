"""The version of crossling: the one source of the package metadata, cell keys and provenance."""

__version__ = "0.4.0"
