"""Readers for the native corpus formats. Every reader raises FormatError (naming file and line) on bad input."""

from mnlu.formats.errors import FormatError, OffsetMismatch

__all__ = ["FormatError", "OffsetMismatch"]
