"""The classifier's command line as scripts and workers call it."""
from __future__ import annotations

import subprocess
import sys

from tests.support import REPO


def run_cli(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m classifier ARGS`` in a subprocess, as scripts and workers call it."""
    result = subprocess.run(
        [sys.executable, "-m", "classifier", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"classifier {args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result
