"""OneRoster 1.2 CSV (Japan Profile): reading and checking packages, and writing them."""

from roster.oneroster.reader import (
    Limits,
    Package,
    PackageRefused,
    Problem,
    Report,
    Row,
    read_package,
)
from roster.oneroster.references import Known, check_references
from roster.oneroster.schema import FILES, FileSpec, grade_code, grade_number
from roster.oneroster.writer import write_directory, write_zip

__all__ = [
    "FILES",
    "FileSpec",
    "Known",
    "Limits",
    "Package",
    "PackageRefused",
    "Problem",
    "Report",
    "Row",
    "check_references",
    "grade_code",
    "grade_number",
    "read_package",
    "write_directory",
    "write_zip",
]
