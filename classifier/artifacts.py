"""``model.tar.gz`` in SageMaker's layout (spec 0.3 and 4.1), written and checked without MXNet.

The tarball holds, at its top level, ``image-classification-symbol.json``, one or more
``image-classification-NNNN.params`` (NNNN = 1-based epoch), ``model-shapes.json``, and IC Studio's
own ``class-names.json`` and ``hyperparameters.json``, which SageMaker ignores.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.errors import ArtifactError

PREFIX = "image-classification"
SYMBOL_FILE = f"{PREFIX}-symbol.json"
SHAPES_FILE = "model-shapes.json"
CLASS_NAMES_FILE = "class-names.json"
HYPERPARAMETERS_FILE = "hyperparameters.json"
_PARAMS = re.compile(rf"^{PREFIX}-(\d{{4}})\.params$")
MAX_MEMBER_BYTES = 4 << 30


def params_name(epoch: int) -> str:
    """File name of the checkpoint after the 1-based ``epoch``, as MXNet's save_checkpoint names it."""
    return f"{PREFIX}-{epoch:04d}.params"


@dataclass
class Artifact:
    """An unpacked model.tar.gz. ``params`` is the checkpoint with the highest epoch."""

    directory: Path
    symbol: Path
    params: Path
    epochs: list[int]
    image_shape: tuple[int, int, int]
    class_names: list[str] | None = None
    hyperparameters: dict[str, str] = field(default_factory=dict)

    @property
    def symbol_json(self) -> dict[str, Any]:
        return json.loads(self.symbol.read_text())


def write_artifact(
    path: Path,
    *,
    symbol_json: str,
    params: dict[int, Path],
    image_shape: tuple[int, int, int],
    class_names: list[str] | None = None,
    hyperparameters: dict[str, str] | None = None,
) -> Path:
    """Write ``path`` (a model.tar.gz) atomically from a symbol and ``{epoch: .params file}``."""
    if not params:
        raise ArtifactError("a model needs at least one .params checkpoint")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extras = {
        SYMBOL_FILE: symbol_json,
        SHAPES_FILE: json.dumps([{"name": "data", "shape": [1, *image_shape]}]),
    }
    if class_names is not None:
        extras[CLASS_NAMES_FILE] = json.dumps(list(class_names))
    if hyperparameters is not None:
        extras[HYPERPARAMETERS_FILE] = json.dumps(hyperparameters, indent=1, sort_keys=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as staging:
        for name, text in extras.items():
            Path(staging, name).write_text(text)
        partial = Path(staging, "model.tar.gz")
        with tarfile.open(partial, "w:gz") as tar:
            for name in extras:
                tar.add(Path(staging, name), arcname=name)
            for epoch, source in sorted(params.items()):
                tar.add(source, arcname=params_name(epoch))
        os.replace(partial, path)
    return path


def _safe_members(tar: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    members = []
    for member in tar.getmembers():
        name = member.name.lstrip("./") if member.name.startswith("./") else member.name
        if member.isdir() and name in ("", "."):
            continue
        if not member.isfile():
            raise ArtifactError(f"{source}: entry {member.name!r} is not a plain file")
        if "/" in name or name.startswith(".."):
            raise ArtifactError(
                f"{source}: entry {member.name!r} is not at the top level; SageMaker's layout keeps "
                "every file at the root of model.tar.gz"
            )
        if member.size > MAX_MEMBER_BYTES:
            raise ArtifactError(f"{source}: entry {member.name!r} is larger than {MAX_MEMBER_BYTES} bytes")
        member.name = name
        members.append(member)
    return members


def _image_shape(shapes_text: str, source: Path) -> tuple[int, int, int]:
    try:
        shapes = json.loads(shapes_text)
        # Neo's template reads the last descriptor; the batch dimension is ignored.
        shape = [int(n) for n in shapes[-1]["shape"]]
        if len(shape) != 4 or min(shape) < 1:
            raise ValueError(shape)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise ArtifactError(
            f'{source}: {SHAPES_FILE} must be [{{"name": "data", "shape": [N, C, H, W]}}] ({error})'
        ) from error
    return tuple(shape[1:])  # type: ignore[return-value]


def read_artifact(path: Path, directory: Path) -> Artifact:
    """Unpack ``path`` into ``directory`` and check its layout, with a clear error for each fault."""
    path, directory = Path(path), Path(directory)
    try:
        with tarfile.open(path, "r:*") as tar:
            members = _safe_members(tar, path)
            directory.mkdir(parents=True, exist_ok=True)
            tar.extractall(directory, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArtifactError(f"{path}: not a readable model.tar.gz ({error})") from error
    return _check_layout(directory, {member.name for member in members}, path)


def read_model_directory(directory: Path) -> Artifact:
    """An already unpacked model, as SageMaker's hosting puts it in ``/opt/ml/model``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such model directory")
    return _check_layout(directory, {entry.name for entry in directory.iterdir() if entry.is_file()}, directory)


def _check_layout(directory: Path, names: set[str], path: Path) -> Artifact:
    epochs = sorted(int(m.group(1)) for m in map(_PARAMS.match, names) if m)
    missing = [name for name in (SYMBOL_FILE, SHAPES_FILE) if name not in names]
    if not epochs:
        missing.append(f"{PREFIX}-NNNN.params")
    if missing:
        raise ArtifactError(f"{path}: model.tar.gz lacks {', '.join(missing)} (found: {', '.join(sorted(names)) or 'nothing'})")
    try:
        json.loads((directory / SYMBOL_FILE).read_text())
    except ValueError as error:
        raise ArtifactError(f"{path}: {SYMBOL_FILE} is not JSON ({error})") from error
    artifact = Artifact(
        directory=directory,
        symbol=directory / SYMBOL_FILE,
        params=directory / params_name(epochs[-1]),
        epochs=epochs,
        image_shape=_image_shape((directory / SHAPES_FILE).read_text(), path),
    )
    if CLASS_NAMES_FILE in names:
        artifact.class_names = _json_file(directory / CLASS_NAMES_FILE, path, list)
    if HYPERPARAMETERS_FILE in names:
        artifact.hyperparameters = {k: str(v) for k, v in _json_file(directory / HYPERPARAMETERS_FILE, path, dict).items()}
    return artifact


def _json_file(file: Path, source: Path, kind: type):
    try:
        value = json.loads(file.read_text())
    except ValueError as error:
        raise ArtifactError(f"{source}: {file.name} is not JSON ({error})") from error
    if not isinstance(value, kind):
        raise ArtifactError(f"{source}: {file.name} must hold a JSON {kind.__name__}")
    return value


def architecture_of(artifact: Artifact) -> dict[str, Any]:
    """num_layers, image_shape and num_classes of a model, from its symbol when its
    hyperparameters are absent (SageMaker's own artifacts carry none)."""
    nodes = artifact.symbol_json.get("nodes", [])
    units: dict[int, int] = {}
    convs_per_unit = 0
    for node in nodes:
        match = re.match(r"^stage(\d+)_unit(\d+)_conv(\d)$", node.get("name", ""))
        if match:
            stage, unit, conv = map(int, match.groups())
            units[stage] = max(units.get(stage, 0), unit)
            convs_per_unit = max(convs_per_unit, conv)
    # Every unit adds 2 (basic) or 3 (bottleneck) layers; the stem conv and fc1 add the last 2.
    depth = sum(units.values()) * convs_per_unit + 2 if units else None
    num_classes = None
    for node in nodes:
        if node.get("name") == "fc1":
            attrs = node.get("attrs") or node.get("param") or {}
            num_classes = int(attrs.get("num_hidden", 0)) or None
    return {"num_layers": depth, "image_shape": artifact.image_shape, "num_classes": num_classes}


def discard(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
