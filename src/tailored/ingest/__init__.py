"""Reading interaction files into events."""

from .formats import FileFormat, parse_bytes, read_file

__all__ = ["FileFormat", "parse_bytes", "read_file"]
