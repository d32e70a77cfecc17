"""The test suite. ``DATA_DIR`` holds the public data sets the tests use (see its README)."""

from pathlib import Path

#: tests/data, resolved from this file, so a clone anywhere runs its tests.
DATA_DIR = Path(__file__).resolve().parent / "data"
