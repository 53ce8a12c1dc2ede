"""The training loop: full training, transfer learning, incremental training, resume.

``train`` reads a train and a validation ``.rec``, reports through event handlers (see
``classifier.events``), writes a resume checkpoint after every epoch and ends with a SageMaker
``model.tar.gz`` plus ``metrics.json`` in ``model_dir``. It logs epochs exactly as MXNet's
``Module.fit`` does, which SageMaker's metric regexes read.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mxnet as mx
import numpy as np

from classifier import artifacts, checkpoints, data, metrics, networks, weights
from classifier.errors import ArtifactError, PretrainedWeightsMissing, TrainingCancelled
from classifier.events import BatchEnd, Checkpoint, EpochEnd, Event, Log
from classifier.files import write_json_atomic
from classifier.hyperparameters import Hyperparameters, architecture_mismatch, log_parameters
from classifier.optimization import make_optimizer

log = logging.getLogger("classifier.training")
SPEEDOMETER_EVERY = 50  # batches between MXNet-style "Speed:" log lines


@dataclass
class TrainResult:
    artifact: Path
    metrics: dict[str, float]  # the last epoch's
    history: list[dict[str, float]]
    best_epoch: int | None  # 1-based epoch whose weights the artifact holds last
    stopped_early: bool


def default_contexts() -> list[mx.Context]:
    """Every visible GPU, else the CPU."""
    gpus = mx.context.num_gpus()
    return [mx.gpu(i) for i in range(gpus)] if gpus else [mx.cpu()]


def pretrained_files(model_store: Path | None, num_layers: int) -> tuple[Path, Path]:
    """The MXNet model-zoo checkpoint transfer learning starts from; nothing is downloaded."""
    names = (f"resnet-{num_layers}-symbol.json", f"resnet-{num_layers}-0000.params")
    if model_store is None:
        raise PretrainedWeightsMissing(
            f"use_pretrained_model=1 needs a model store directory holding {names[0]} and {names[1]}"
        )
    files = tuple(Path(model_store) / name for name in names)
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise PretrainedWeightsMissing(
            f"use_pretrained_model=1 needs ImageNet weights for num_layers={num_layers}: "
            f"{' and '.join(missing)} not found (put MXNet model-zoo checkpoints there)"
        )
    return files  # type: ignore[return-value]


class _Reporter:
    def __init__(self, handlers: Iterable[Callable[[Event], None]]):
        self.handlers = list(handlers)

    def emit(self, event: Event) -> None:
        for handler in self.handlers:
            handler(event)

    def log(self, line: str) -> None:
        log.info(line)
        self.emit(Log(line))


def _initialise(net, hp: Hyperparameters, contexts, *, base_model, model_store, work_dir: Path, report) -> None:
    """Weights to start from: a previous model, ImageNet weights with a new fc1, or Xavier."""
    xavier = mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2)  # MXNet's example's choice
    for name, param in net.collect_params().items():
        # Gluon hands a SymbolBlock's parameters the global initializer without MXNet's dispatch on
        # the name's suffix, so BatchNorm's gamma, beta and statistics are set here.
        if name.endswith(("_gamma", "_moving_var")):
            param.init = mx.init.One()
        elif name.endswith(("_beta", "_bias", "_moving_mean")):
            param.init = mx.init.Zero()
        else:
            param.init = xavier
    net.initialize(ctx=contexts)
    net(mx.nd.zeros((1, *hp.image_shape), ctx=contexts[0]))  # completes deferred shapes
    if base_model is not None:
        model = artifacts.read_artifact(base_model, work_dir / "base-model")
        architecture = {**artifacts.architecture_of(model), **_architecture_in(model.hyperparameters)}
        problems = architecture_mismatch(architecture, hp)
        # Named by what it is, not where it lies: these lines reach users of a server too.
        if problems:
            raise ArtifactError("the base model cannot seed this job: " + "; ".join(problems))
        left = weights.load_params(net, weights.read_params(model.params), source="the base model")
        if left:
            raise ArtifactError(f"the base model is a different architecture: it lacks {', '.join(left[:3])}")
        report.log(f"Loaded the base model (epoch {model.epochs[-1]}) for incremental training")
    elif hp.use_pretrained_model:
        _, params = pretrained_files(model_store, hp.num_layers)
        report.log("Using pretrained model for initializing weights and transfer learning.")
        # MXNet's fine-tune recipe: keep everything but the classifier, which is re-initialised.
        weights.load_params(net, weights.read_params(params), source=f"the ImageNet weights {params.name}",
                            skip=lambda name: "fc" in name)


def _architecture_in(hyperparameters: dict[str, str]) -> dict:
    found = {}
    if "num_layers" in hyperparameters:
        found["num_layers"] = int(hyperparameters["num_layers"])
    if "num_classes" in hyperparameters:
        found["num_classes"] = int(hyperparameters["num_classes"])
    return found


def _kvstore(hp: Hyperparameters) -> mx.kvstore.KVStore | str:
    kind = hp.effective_kv_store
    if kind.startswith("dist"):
        return mx.kv.create(kind)
    return kind


def _loss(hp: Hyperparameters) -> mx.gluon.loss.Loss:
    if hp.multi_label:
        return mx.gluon.loss.SigmoidBinaryCrossEntropyLoss()
    return mx.gluon.loss.SoftmaxCrossEntropyLoss()


def _positive_weights(hp, train_rec, train_idx, contexts) -> list[mx.nd.NDArray] | None:
    """Spec 0.5: each class's positive term weighted by negatives/positives in the training set."""
    if not (hp.multi_label and hp.use_weighted_loss):
        return None
    labels = data.label_matrix(train_rec, train_idx, hp.num_classes, multi_label=True)
    positives = labels.sum(axis=0)
    ratio = (labels.shape[0] - positives) / np.maximum(positives, 1)
    return [mx.nd.array(ratio.reshape(1, -1), ctx=ctx) for ctx in contexts]


def _split(array: mx.nd.NDArray, contexts) -> list[mx.nd.NDArray]:
    return mx.gluon.utils.split_and_load(array, contexts, even_split=False)


def _forward_losses(net, loss_fn, xs, ys, pos_weight, dtype):
    outputs, losses = [], []
    for i, (x, y) in enumerate(zip(xs, ys)):
        out = net(x.astype(dtype) if dtype != "float32" else x).astype("float32")
        if pos_weight is not None:
            losses.append(loss_fn(out, y, None, pos_weight[i]))
        else:
            losses.append(loss_fn(out, y))
        outputs.append(out)
    return outputs, losses


def _numpy(arrays: Sequence[mx.nd.NDArray]) -> np.ndarray:
    return np.concatenate([a.asnumpy() for a in arrays])


def validate(net, batches, hp: Hyperparameters, contexts, loss_fn, pos_weight=None, dtype="float32") -> dict[str, float]:
    """Loss, accuracy and top-k over ``batches``, ignoring the padding of the last batch."""
    running = metrics.Running()
    for batch in batches:
        xs, ys = _split(batch.data[0], contexts), _split(batch.label[0], contexts)
        outputs, losses = _forward_losses(net, loss_fn, xs, ys, pos_weight, dtype)
        valid = batch.data[0].shape[0] - batch.pad
        scores, labels = _numpy(outputs)[:valid], _numpy(ys)[:valid]
        counts = metrics.batch_counts(scores, labels, multi_label=hp.multi_label, top_k=hp.top_k)
        running.add(valid, float(_numpy(losses)[:valid].sum()), counts)
    return running.means()


@dataclass
class _Loop:
    """What every epoch of one run shares: the network, its trainer and where this machine stands."""
    hp: Hyperparameters
    net: mx.gluon.HybridBlock
    trainer: mx.gluon.Trainer
    contexts: list[mx.Context]
    dtype: str
    loss_fn: mx.gluon.loss.Loss
    pos_weight: list[mx.nd.NDArray] | None
    workers: int
    rank: int
    step_scale: int
    asynchronous: bool
    batches_per_epoch: int
    report: _Reporter

    @property
    def chief(self) -> bool:
        return self.rank == 0


def train(
    hp: Hyperparameters,
    *,
    train_rec: Path,
    validation_rec: Path,
    model_dir: Path,
    work_dir: Path | None = None,
    class_names: Sequence[str] | None = None,
    base_model: Path | None = None,
    model_store: Path | None = None,
    handlers: Iterable[Callable[[Event], None]] = (),
    should_stop: Callable[[], bool] | None = None,
    contexts: list[mx.Context] | None = None,
    seed: int = 0,
    resize: int | None = None,
) -> TrainResult:
    """Train, or resume the run whose checkpoints are in ``work_dir``, and write the artifact.

    ``resize`` resizes the shorter side while reading (RecordIO input with the ``resize``
    hyperparameter); image input is resized when packed. ``should_stop`` is polled between
    batches and raises ``TrainingCancelled``; the last finished epoch's checkpoint is kept.
    """
    report = _Reporter(handlers)
    model_dir = Path(model_dir)
    work_dir = Path(work_dir) if work_dir is not None else model_dir / "work"
    kvstore = _kvstore(hp)
    workers, rank = (kvstore.num_workers, kvstore.rank) if not isinstance(kvstore, str) else (1, 0)
    if workers > 1:
        work_dir = work_dir / f"worker-{rank}"  # each machine's checkpoints; the chief's make the artifact
    resume_dir, saved_dir = work_dir / "checkpoints", work_dir / "saved"
    for directory in (model_dir, resume_dir, saved_dir):
        directory.mkdir(parents=True, exist_ok=True)
    contexts = contexts or default_contexts()
    if class_names is not None and len(class_names) != hp.num_classes:
        raise ArtifactError(f"{len(class_names)} class names given for num_classes={hp.num_classes}")
    if hp.use_pretrained_model and base_model is None:
        pretrained_files(model_store, hp.num_layers)  # fail before any data is read

    train_idx = data.index_path(train_rec, work_dir)
    validation_idx = data.index_path(validation_rec, work_dir)
    for rec, idx in ((train_rec, train_idx), (validation_rec, validation_idx)):
        data.check_image_sizes(rec, idx, hp)
    samples = data.count_records(train_idx)
    if samples != hp.num_training_samples:
        report.log(
            f"num_training_samples is {hp.num_training_samples} but {Path(train_rec).name} holds {samples} images; "
            "the learning-rate schedule counts updates from num_training_samples"
        )

    mx.random.seed(seed)
    np.random.seed(seed)
    resumed = checkpoints.latest(resume_dir)
    loop = _build_loop(hp, kvstore, workers, rank, contexts, samples, report,
                       base_model=None if resumed else base_model, model_store=model_store, work_dir=work_dir,
                       positives=(train_rec, train_idx))
    state = checkpoints.LoopState()
    if resumed:
        state, params_file, states_file = resumed
        weights.load_params(loop.net, weights.read_params(params_file), source=f"the checkpoint of Epoch[{state.epoch}]")
        if Path(states_file).exists():  # dist_async keeps its optimizer state on the servers
            loop.trainer.load_states(str(states_file))
        report.log(f"Resuming from the checkpoint of Epoch[{state.epoch}]")
    else:
        for line in log_parameters(hp):
            report.log(line)

    run_started = time.time() - state.elapsed
    for epoch in range(state.epoch + 1, hp.epochs):
        if state.stopped_early:
            break
        tic = time.time()
        batches = data.record_iter(train_rec, train_idx, hp, batch_size=hp.mini_batch_size, train=True,
                                   seed=seed + epoch, resize=resize, num_parts=workers, part_index=rank)
        train_means = train_one_epoch(loop, epoch, batches, should_stop)
        epoch_time = time.time() - tic
        # A fresh iterator each time: with round_batch, a reused one starts its next pass inside
        # the wrapped-around last batch and skips images.
        validation_batches = data.record_iter(validation_rec, validation_idx, hp, batch_size=hp.mini_batch_size,
                                              train=False, resize=resize)
        validation_means = validate(loop.net, validation_batches, hp, contexts, loop.loss_fn, loop.pos_weight,
                                    loop.dtype)
        _log_epoch(report, epoch, train_means, validation_means, epoch_time)
        row = {"epoch": epoch, **metrics.prefixed("train", train_means),
               **metrics.prefixed("validation", validation_means), "lr": loop.trainer.learning_rate,
               "time": epoch_time}
        _end_epoch(loop, state, row, validation_means["accuracy"], saved_dir, resume_dir, run_started)

    if not state.history:
        raise ArtifactError("epochs must be at least 1")
    artifact = model_dir / "model.tar.gz"
    if loop.chief:
        _write_outputs(hp, state, artifact, saved_dir, class_names)
    return TrainResult(
        artifact=artifact,
        metrics=_final_metrics(state),
        history=state.history,
        best_epoch=state.saved_epochs[-1] if state.saved_epochs else None,
        stopped_early=state.stopped_early,
    )


def _build_loop(hp, kvstore, workers, rank, contexts, samples, report, *, base_model, model_store, work_dir,
                positives) -> _Loop:
    """The network (initialised, hybridized), its trainer and loss, for this machine's share of the data."""
    dtype = hp.precision_dtype
    if dtype == "float16" and any(ctx.device_type != "gpu" for ctx in contexts):
        report.log("float16 needs a GPU (MXNet has no float16 GEMM on the CPU); training in float32")
        dtype = "float32"
    net = weights.network_block(networks.logits(hp.num_classes, hp.num_layers, hp.image_shape))
    _initialise(net, hp, contexts, base_model=base_model, model_store=model_store, work_dir=work_dir, report=report)
    if dtype == "float16":
        net.cast("float16")
    net.hybridize(static_alloc=True, static_shape=True)
    # dist_sync: servers sum the gradients and every worker applies the same update itself, so its
    # optimizer state can be checkpointed; dist_async must update on the servers.
    asynchronous = hp.effective_kv_store == "dist_async"
    trainer = mx.gluon.Trainer(
        net.collect_params(), make_optimizer(hp, num_workers=workers, multi_precision=dtype == "float16"),
        kvstore=kvstore, update_on_kvstore=True if asynchronous else (False if workers > 1 else None),
    )
    return _Loop(
        hp=hp, net=net, trainer=trainer, contexts=contexts, dtype=dtype, loss_fn=_loss(hp),
        pos_weight=_positive_weights(hp, *positives, contexts), workers=workers, rank=rank,
        # dist_sync sums every worker's gradient: scale by the global batch, as MXNet's Module does, so
        # the update is the mean over all machines (mini_batch_size is per machine, as in SageMaker).
        step_scale=workers if "_sync" in hp.effective_kv_store else 1,
        asynchronous=asynchronous,
        batches_per_epoch=math.ceil(math.ceil(samples / workers) / min(hp.mini_batch_size, max(samples, 1))),
        report=report,
    )


def train_one_epoch(loop: _Loop, epoch: int, batches, should_stop: Callable[[], bool] | None) -> dict[str, float]:
    """One pass over this machine's part of the training set; its loss, accuracy and top-k."""
    hp, report = loop.hp, loop.report
    running = metrics.Running()
    batch_tic = time.time()
    for index, batch in enumerate(batches):
        if should_stop is not None and should_stop():
            raise TrainingCancelled(f"cancelled in Epoch[{epoch}] batch {index}")
        xs, ys = _split(batch.data[0], loop.contexts), _split(batch.label[0], loop.contexts)
        with mx.autograd.record():
            outputs, losses = _forward_losses(loop.net, loop.loss_fn, xs, ys, loop.pos_weight, loop.dtype)
        mx.autograd.backward(losses)
        loop.trainer.step(batch.data[0].shape[0] * loop.step_scale)
        valid = batch.data[0].shape[0] - batch.pad
        scores, labels = _numpy(outputs)[:valid], _numpy(ys)[:valid]
        counts = metrics.batch_counts(scores, labels, multi_label=hp.multi_label, top_k=hp.top_k)
        loss_sum = float(_numpy(losses)[:valid].sum())
        running.add(valid, loss_sum, counts)
        now = time.time()
        speed = batch.data[0].shape[0] / max(now - batch_tic, 1e-9)
        batch_tic = now
        report.emit(BatchEnd(epoch, index, loop.batches_per_epoch, loss_sum / max(valid, 1),
                             counts["accuracy"] / max(valid, 1), speed, loop.trainer.learning_rate))
        if (index + 1) % SPEEDOMETER_EVERY == 0:
            report.log(f"Epoch[{epoch}] Batch [{index + 1}]\tSpeed: {speed:.2f} samples/sec\t"
                       f"accuracy={running.means()['accuracy']:f}")
    return running.means()


def _log_epoch(report: _Reporter, epoch: int, train_means: dict, validation_means: dict, epoch_time: float) -> None:
    """The lines MXNet's ``Module.fit`` prints, in its order: SageMaker's metric regexes read them."""
    for name, value in train_means.items():
        if name != "loss":
            report.log(f"Epoch[{epoch}] Train-{name}={value:f}")
    report.log(f"Epoch[{epoch}] Time cost={epoch_time:.3f}")
    for name, value in validation_means.items():
        if name != "loss":
            report.log(f"Epoch[{epoch}] Validation-{name}={value:f}")


def _end_epoch(loop: _Loop, state: checkpoints.LoopState, row: dict, accuracy: float, saved_dir: Path,
               resume_dir: Path, run_started: float) -> None:
    """Keep the artifact's weights, decide on early stopping, write the resume checkpoint, report the epoch."""
    hp, report, epoch = loop.hp, loop.report, row["epoch"]
    state.history.append(row)
    state.epoch = epoch
    if loop.chief:
        _keep_artifact_weights(loop.net, hp, state, epoch, accuracy, saved_dir, report)
    # Workers that stopped at different epochs would wait for each other forever: with several,
    # every epoch runs.
    state.stopped_early = _early_stop(hp, state, epoch, accuracy, report) if loop.workers == 1 else False
    state.elapsed = time.time() - run_started
    params_file, states_file = checkpoints.paths_for(resume_dir, epoch)
    weights.save_params(loop.net, params_file)
    if not loop.asynchronous:
        loop.trainer.save_states(str(states_file))
    checkpoints.commit(resume_dir, state)
    report.emit(Checkpoint(epoch, str(params_file)))
    remaining = 0 if state.stopped_early else hp.epochs - (epoch + 1)
    average = sum(r["time"] for r in state.history) / len(state.history)
    report.emit(EpochEnd(epoch, {k: v for k, v in row.items() if k not in ("epoch", "time")},
                         state.elapsed, average * remaining))


def _final_metrics(state: checkpoints.LoopState) -> dict[str, float]:
    return {k: v for k, v in state.history[-1].items() if k not in ("epoch", "time")}


def _write_outputs(hp: Hyperparameters, state: checkpoints.LoopState, artifact: Path, saved_dir: Path,
                   class_names: Sequence[str] | None) -> None:
    """``model.tar.gz`` from the kept epochs' weights, and ``metrics.json`` beside it."""
    names = list(class_names) if class_names is not None else [str(i) for i in range(hp.num_classes)]
    symbol = networks.get_symbol(hp.num_classes, hp.num_layers, hp.image_shape, hp.multi_label)
    artifacts.write_artifact(
        artifact,
        symbol_json=symbol.tojson(),
        params={e: saved_dir / artifacts.params_name(e) for e in state.saved_epochs},
        image_shape=hp.image_shape,
        class_names=names,
        hyperparameters=hp.to_sagemaker(),
    )
    summary = {**_final_metrics(state), "best_epoch": state.saved_epochs[-1] if state.saved_epochs else None,
               "stopped_early": state.stopped_early, "history": state.history}
    write_json_atomic(artifact.parent / "metrics.json", summary)


def _keep_artifact_weights(net, hp, state, epoch, accuracy, saved_dir: Path, report) -> None:
    """SageMaker's checkpoint policy: every N-th epoch, or only the best validation accuracy."""
    number = epoch + 1
    path = saved_dir / artifacts.params_name(number)
    if hp.checkpoint_frequency:
        if number % hp.checkpoint_frequency == 0:
            weights.save_params(net, path)
            state.saved_epochs.append(number)
            report.log(f'Saved checkpoint of epoch {number} to "{path.name}"')
        return
    if state.best_accuracy is None or accuracy > state.best_accuracy:
        report.log(f"Storing the best model with validation accuracy: {accuracy:f}")
        weights.save_params(net, path)
        for old in state.saved_epochs:
            (saved_dir / artifacts.params_name(old)).unlink(missing_ok=True)
        state.saved_epochs = [number]
        state.best_accuracy = accuracy
        report.log(f'Saved checkpoint of epoch {number} to "{path.name}"')


def _early_stop(hp, state, epoch, accuracy, report) -> bool:
    """A gain counts when (new - best) / best >= tolerance; stop after ``patience`` epochs without
    one, never before ``early_stopping_min_epochs``."""
    best = state.patience_best
    if best is None:
        gained = True
    else:
        relative = (accuracy - best) / best if best > 0 else math.inf
        gained = accuracy > best and relative >= hp.early_stopping_tolerance
    if gained:
        state.patience_best = accuracy
        state.epochs_without_gain = 0
    else:
        state.epochs_without_gain += 1
    if not hp.early_stopping or epoch + 1 < hp.early_stopping_min_epochs:
        return False
    if state.epochs_without_gain >= hp.early_stopping_patience:
        report.log(f"Early stopping at Epoch[{epoch}]: validation accuracy has not improved for "
                   f"{state.epochs_without_gain} epochs")
        return True
    return False
