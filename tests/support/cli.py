"""The classifier's command line as scripts and workers call it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.support import REPO


def run_cli(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m classifier ARGS`` in a subprocess, as scripts and workers call it. On a timeout the whole
    process group goes (a distributed run's scheduler, servers and workers too), then TimeoutExpired."""
    process = subprocess.Popen([sys.executable, "-m", "classifier", *map(str, args)], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"classifier {args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result
