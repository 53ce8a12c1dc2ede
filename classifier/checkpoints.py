"""Resume checkpoints: weights, optimizer state and loop state after each finished epoch.

Files are named by epoch and ``state.json`` is replaced last, so it always names a complete set:
a process killed at any point resumes from the last epoch that finished.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from classifier.files import write_json_atomic

STATE_FILE = "state.json"


@dataclass
class LoopState:
    epoch: int = -1  # last finished epoch, 0-based; -1 before the first
    elapsed: float = 0.0  # training seconds across every process that worked on this run
    history: list[dict[str, float]] = field(default_factory=list)
    best_accuracy: float | None = None  # best validation accuracy, for best-model checkpoints
    patience_best: float | None = None  # the reference of early stopping's relative tolerance
    epochs_without_gain: int = 0
    saved_epochs: list[int] = field(default_factory=list)  # 1-based epochs kept for model.tar.gz
    stopped_early: bool = False


def _files(directory: Path, epoch: int) -> tuple[Path, Path]:
    return directory / f"epoch-{epoch:04d}.params", directory / f"epoch-{epoch:04d}.states"


def paths_for(directory: Path, epoch: int) -> tuple[Path, Path]:
    """Where the weights and optimizer state of ``epoch`` go (write them before ``commit``)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    return _files(Path(directory), epoch)


def commit(directory: Path, state: LoopState) -> None:
    """Make ``state`` the one to resume from, then drop older epochs' files."""
    directory = Path(directory)
    write_json_atomic(directory / STATE_FILE, asdict(state), indent=1)
    keep = set(_files(directory, state.epoch))
    for old in directory.glob("epoch-*"):
        if old not in keep:
            old.unlink(missing_ok=True)


def latest(directory: Path) -> tuple[LoopState, Path, Path] | None:
    """The committed state with its weights and optimizer files, or None to start afresh."""
    state_file = Path(directory) / STATE_FILE
    if not state_file.exists():
        return None
    state = LoopState(**json.loads(state_file.read_text()))
    params, states = _files(Path(directory), state.epoch)
    if not (params.exists() and states.exists()):
        return None
    return state, params, states
