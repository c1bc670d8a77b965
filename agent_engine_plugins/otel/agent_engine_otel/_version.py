"""The distribution version (read by setuptools and reported in result metadata)."""

__version__ = "0.1.0"
