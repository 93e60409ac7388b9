"""The package's version, kept here only: pyproject.toml reads it, and CHANGELOG.md names it."""

__version__ = "0.2.0"
