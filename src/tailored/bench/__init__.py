"""Benchmarks over public datasets and synthetic load; each writes a report under docs/benchmarks/."""
