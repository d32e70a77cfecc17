"""What every benchmark script shares: BLAS thread pinning, done before numpy is first imported,
and the description of the machine printed beside each figure. Imports nothing heavy."""

from __future__ import annotations

import os
import platform
from typing import Any


def pin_blas_threads(argv: list[str]) -> None:
    """Apply ``--blas-threads N`` from ``argv`` to OpenBLAS, OpenMP and MKL.

    Thread counts must be fixed before numpy (and its BLAS) is first imported.
    """
    for i, arg in enumerate(argv):
        value = None
        if arg == "--blas-threads" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--blas-threads="):
            value = arg.split("=", 1)[1]
        if value is not None:
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[name] = value


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU, cores, load average, Python and BLAS threads (callers add library versions)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }


def machine_line() -> str:
    """One line for a report: ``<cpu>, <n> cores, Python <version>``."""
    info = machine()
    return f"{info['cpu']}, {info['cores']} cores, Python {info['python']}"
