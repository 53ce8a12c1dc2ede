"""Training on several machines as SageMaker does: MXNet's parameter server, started by MXNet's own
launcher (``mxnet/tools/launch.py``, dmlc-core's tracker).

``python -m classifier train ... --workers 2 --servers 1`` re-runs the same command under the
launcher: one scheduler, ``servers`` parameter servers and ``workers`` workers, each worker reading
its own part of the training .rec. ``--launcher local`` runs them all on this machine (tests, or one
big machine); ``--launcher ssh --hostfile hosts`` spreads them over machines that see the same paths.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from classifier.errors import ClassifierError

LAUNCHERS = ("local", "ssh", "mpi", "sge", "yarn")


def launch_script() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mxnet")
    if spec is None or spec.origin is None:
        raise ClassifierError("distributed training needs MXNet (pip install mxnet==1.9.1)")
    script = Path(spec.origin).parent / "tools" / "launch.py"
    if not script.exists():
        raise ClassifierError(f"this MXNet has no launcher at {script}")
    return script


def under_launcher() -> bool:
    """Whether this process was started by the launcher (as a worker, server or scheduler)."""
    return "DMLC_ROLE" in os.environ


def launch(command: list[str], *, workers: int, servers: int, launcher: str = "local",
           hostfile: Path | None = None) -> int:
    """Run ``command`` (a ``python -m classifier train`` line) as ``workers`` workers and ``servers``
    servers; returns the launcher's exit status."""
    if workers < 1 or servers < 1:
        raise ClassifierError("distributed training needs at least one worker and one server")
    if launcher not in LAUNCHERS:
        raise ClassifierError(f"unknown launcher {launcher!r}: one of {', '.join(LAUNCHERS)}")
    if launcher != "local" and hostfile is None:
        raise ClassifierError(f"--launcher {launcher} needs --hostfile, one machine per line")
    env = dict(os.environ)
    if launcher == "local":
        # Processes sharing one machine share its cores, rather than each taking all of them.
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    launcher_command = [sys.executable, "-m", "classifier._mxnet_launch", str(launch_script()), "-n", str(workers),
                        "-s", str(servers), "--launcher", launcher]
    if hostfile is not None:
        launcher_command += ["-H", str(hostfile)]
    return subprocess.run(launcher_command + command, env=env).returncode
