"""The repository stands alone: no code, test or document points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Paths that only exist on one machine: a parent folder of the clone, or a home or work folder.
OUTSIDE = re.compile(r"\.\./shared|(?<![\w.])/(?:work|home|root|Users)/\w")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    return [ROOT / name.decode() for name in listed if name]


def test_no_path_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        if path.suffix not in {".py", ".md", ".cfg", ".toml", ".sh", ".html", ".js", ".ini", ""}:
            continue
        if not path.is_file() or path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_the_data_sets_the_tests_read_are_in_the_repository() -> None:
    from tests import DATA_DIR

    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for name in ("lsat6.csv", "lsat7.csv", "verbagg.csv", "verbagg_covariates.csv"):
        assert (DATA_DIR / name).is_file()
        assert f"`{name}`" in readme, f"{name} has no source in tests/data/README.md"
