"""Moving weights between Gluon blocks and MXNet's ``.params`` files (``arg:``/``aux:`` keys).

That one format serves SageMaker artifacts, model-zoo checkpoints and our own resume checkpoints,
so a checkpoint is always loadable by plain MXNet too.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import mxnet as mx

from classifier.errors import ArtifactError
from classifier.files import atomic_path


def network_block(symbol) -> mx.gluon.SymbolBlock:
    """A Gluon block over ``symbol`` whose parameter names are the symbol's own (``conv0_weight``...)."""
    with warnings.catch_warnings():
        # Gluon cannot know the input's dtype before the first batch, and says so every time.
        warnings.filterwarnings("ignore", message="Cannot decide type")
        return mx.gluon.SymbolBlock(symbol, [mx.sym.var("data")])


def _aux_names(net: mx.gluon.SymbolBlock) -> set[str]:
    return {name for name, param in net.collect_params().items() if param.grad_req == "null"}


def save_params(net: mx.gluon.SymbolBlock, path: Path) -> Path:
    """Save as MXNet's ``save_checkpoint`` does, atomically, in float32 whatever the training dtype."""
    aux = _aux_names(net)
    arrays = {
        f"{'aux' if name in aux else 'arg'}:{name}": param.data(param.list_ctx()[0]).astype("float32")
        for name, param in net.collect_params().items()
    }
    path = Path(path)
    with atomic_path(path) as partial:
        mx.nd.save(str(partial), arrays)
    return path


def read_params(path: Path) -> dict[str, mx.nd.NDArray]:
    """``{name: array}`` with the ``arg:``/``aux:`` prefixes dropped."""
    try:
        loaded = mx.nd.load(str(path))
    except mx.base.MXNetError as error:
        raise ArtifactError(f"{path}: not an MXNet .params file") from error
    if not isinstance(loaded, dict):
        raise ArtifactError(f"{path}: an MXNet .params file holds named arrays, this one holds a list")
    return {key.split(":", 1)[-1]: value for key, value in loaded.items()}


def load_params(
    net: mx.gluon.SymbolBlock,
    arrays: dict[str, mx.nd.NDArray],
    *,
    source: str,
    skip: Callable[[str], bool] = lambda name: False,
) -> list[str]:
    """Copy ``arrays`` into ``net``'s initialised parameters; every shape must match.

    Returns the names of ``net``'s parameters left as they were (skipped or absent), so a caller
    can decide whether that is allowed. A shape mismatch means a different architecture, which
    is refused with the parameter that shows it.
    """
    left = []
    mismatches = []
    for name, param in net.collect_params().items():
        if skip(name) or name not in arrays:
            left.append(name)
            continue
        if tuple(arrays[name].shape) != tuple(param.shape):
            mismatches.append(f"{name} is {tuple(arrays[name].shape)} there but {tuple(param.shape)} here")
            continue
        param.set_data(arrays[name].astype(param.dtype))
    if mismatches:
        raise ArtifactError(
            f"{source} is a different architecture: {'; '.join(mismatches[:3])}"
            + (f" (and {len(mismatches) - 3} more)" if len(mismatches) > 3 else "")
        )
    return left
