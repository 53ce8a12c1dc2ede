"""``model.tar.gz`` in SageMaker's layout (spec 0.3 and 4.1), written and checked without MXNet.

The tarball holds, at its top level, ``image-classification-symbol.json``, one or more
``image-classification-NNNN.params`` (NNNN = 1-based epoch), ``model-shapes.json``, and IC Studio's
own ``class-names.json`` and ``hyperparameters.json``, which SageMaker ignores.

Reading checks every header before anything is unpacked: at most ``MAX_MEMBERS`` files and
``MAX_UNPACKED_BYTES`` in all (callers may lower both), plain files at the top level only.
``list_artifact`` checks the layout from the headers and the small JSON files alone, writing nothing,
for a web request; ``read_artifact`` unpacks, for a worker.
"""
from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier import archives
from classifier.errors import ArtifactError
from classifier.files import atomic_write

PREFIX = "image-classification"
SYMBOL_FILE = f"{PREFIX}-symbol.json"
SHAPES_FILE = "model-shapes.json"
CLASS_NAMES_FILE = "class-names.json"
HYPERPARAMETERS_FILE = "hyperparameters.json"
_PARAMS = re.compile(rf"^{PREFIX}-(\d{{4}})\.params$")
JSON_FILES = (SYMBOL_FILE, SHAPES_FILE, CLASS_NAMES_FILE, HYPERPARAMETERS_FILE)
MAX_UNPACKED_BYTES = 1 << 30  # a ResNet-152 artifact unpacks to about 250 MB
MAX_MEMBERS = 32  # a SageMaker artifact holds a few files: symbol, shapes, a .params per kept epoch
MAX_JSON_BYTES = 16 << 20  # one JSON file of a model; ResNet-152's symbol is under 1 MB


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
        with atomic_write(path, unique=True) as out, tarfile.open(fileobj=out, mode="w:gz") as tar:
            for name in extras:
                tar.add(Path(staging, name), arcname=name)
            for epoch, source in sorted(params.items()):
                tar.add(source, arcname=params_name(epoch))
    return path


def _safe_members(tar: tarfile.TarFile, source: Path, max_unpacked_bytes: int,
                  max_members: int) -> Iterator[tarfile.TarInfo]:
    """The files of ``tar``, one header at a time; refused at the first header past a cap or out of layout."""
    try:
        for member in archives.tar_members(tar, max_total_bytes=max_unpacked_bytes, max_members=max_members):
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
            member.name = name
            yield member
    except archives.ArchiveError as error:
        raise ArtifactError(f"{source}: {error.reason}") from None


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


@dataclass
class Listing:
    """What a model.tar.gz holds, read from its headers and its JSON files: nothing is written."""

    names: set[str]
    epochs: list[int]
    symbol_json: dict[str, Any]
    image_shape: tuple[int, int, int]
    class_names: list[str] | None = None
    hyperparameters: dict[str, str] = field(default_factory=dict)


def list_artifact(path: Path, *, max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
                  max_members: int = MAX_MEMBERS) -> Listing:
    """Check ``path``'s layout in one pass over its headers, reading only its JSON files (into memory)."""
    path = Path(path)
    names: set[str] = set()
    texts: dict[str, bytes] = {}  # the JSON files; a .params is only named: its bytes are the worker's to read
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in _safe_members(tar, path, max_unpacked_bytes, max_members):
                names.add(member.name)
                if member.name in JSON_FILES:
                    if member.size > MAX_JSON_BYTES:
                        raise ArtifactError(f"{path}: {member.name} is {member.size} bytes; a model's JSON files "
                                            f"are under {MAX_JSON_BYTES} bytes")
                    texts[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArtifactError(f"{path}: not a readable model.tar.gz ({error})") from error
    layout = _layout(names, lambda name: texts[name].decode("utf-8", "replace"), path)
    return Listing(names=names, **layout)


def read_artifact(path: Path, directory: Path, *, max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
                  max_members: int = MAX_MEMBERS) -> Artifact:
    """Unpack ``path`` into ``directory`` and check its layout, with a clear error for each fault.
    Every header is checked against the caps before the first byte is written."""
    path, directory = Path(path), Path(directory)
    try:
        with tarfile.open(path, "r:*") as tar:
            members = list(_safe_members(tar, path, max_unpacked_bytes, max_members))
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
    layout = _layout(names, lambda name: (directory / name).read_text(errors="replace"), path)
    del layout["symbol_json"]  # Artifact reads it from its file
    return Artifact(directory=directory, symbol=directory / SYMBOL_FILE,
                    params=directory / params_name(layout["epochs"][-1]), **layout)


def _layout(names: set[str], read_text: Callable[[str], str], path: Path) -> dict[str, Any]:
    """The checked parts of a model, from its file names and a reader of its JSON files."""
    epochs = sorted(int(m.group(1)) for m in map(_PARAMS.match, names) if m)
    missing = [name for name in (SYMBOL_FILE, SHAPES_FILE) if name not in names]
    if not epochs:
        missing.append(f"{PREFIX}-NNNN.params")
    if missing:
        raise ArtifactError(f"{path}: model.tar.gz lacks {', '.join(missing)} (found: {', '.join(sorted(names)) or 'nothing'})")
    symbol = _json_text(read_text(SYMBOL_FILE), SYMBOL_FILE, path, dict)
    nodes = symbol.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(node, dict) for node in nodes):
        raise ArtifactError(f"{path}: {SYMBOL_FILE} must be an MXNet symbol: a JSON object with a list of nodes")
    layout = {"epochs": epochs, "symbol_json": symbol, "image_shape": _image_shape(read_text(SHAPES_FILE), path),
              "class_names": None, "hyperparameters": {}}
    if CLASS_NAMES_FILE in names:
        layout["class_names"] = _json_text(read_text(CLASS_NAMES_FILE), CLASS_NAMES_FILE, path, list)
    if HYPERPARAMETERS_FILE in names:
        hyperparameters = _json_text(read_text(HYPERPARAMETERS_FILE), HYPERPARAMETERS_FILE, path, dict)
        layout["hyperparameters"] = {k: str(v) for k, v in hyperparameters.items()}
    return layout


def _json_text(text: str, name: str, source: Path, kind: type):
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ArtifactError(f"{source}: {name} is not JSON ({error})") from error
    if not isinstance(value, kind):
        raise ArtifactError(f"{source}: {name} must hold a JSON {'object' if kind is dict else 'list'}")
    return value


def architecture_of(artifact: Artifact | Listing) -> dict[str, Any]:
    """num_layers, image_shape and num_classes of a model, from its symbol when its
    hyperparameters are absent (SageMaker's own artifacts carry none)."""
    symbol = artifact.symbol_json
    nodes = symbol.get("nodes", []) if isinstance(symbol, dict) else None
    if not isinstance(nodes, list) or not all(isinstance(node, dict) for node in nodes):
        raise ArtifactError(f"{SYMBOL_FILE} must be an MXNet symbol: a JSON object with a list of nodes")
    units: dict[int, int] = {}
    convs_per_unit = 0
    for node in nodes:
        match = re.match(r"^stage(\d+)_unit(\d+)_conv(\d)$", str(node.get("name", "")))
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
            value = attrs.get("num_hidden", 0) if isinstance(attrs, dict) else None
            try:
                num_classes = int(value) or None
            except (TypeError, ValueError):
                raise ArtifactError(f"{SYMBOL_FILE}: fc1's num_hidden must be a whole number (the number of "
                                    f"classes), not {str(value)[:40]!r}") from None
    return {"num_layers": depth, "image_shape": artifact.image_shape, "num_classes": num_classes}


def discard(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
