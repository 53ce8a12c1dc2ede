"""Warm models and micro-batching, shared by ``classifier serve`` and IC Studio's serving workers.

A forward pass of a batch of 8 costs far less than 8 single passes, so requests that arrive while
the model is busy (or within ``window`` seconds of the first) are answered by one batch. A lone
request waits at most ``window``; under load, batches grow up to ``max_batch`` by themselves.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import cachetools
import numpy as np

from classifier.errors import ClassifierError
from classifier.inference import Predictor


@dataclass
class Answer:
    """One image's probabilities, or why it has none, and what answering the batch cost."""

    probabilities: list[float] | None = None
    error: str | None = None
    model_ms: float = 0.0
    batch_size: int = 1


def predict_each(predictor: Predictor, images: Sequence[bytes]) -> list[Answer]:
    """Answer every image; a bad image gets its own error and does not spoil the others."""
    started = time.perf_counter()
    answers = [Answer() for _ in images]
    pixels, positions = [], []
    for position, image in enumerate(images):
        try:
            pixels.append(predictor.preprocess(image))
            positions.append(position)
        except ClassifierError as error:
            answers[position].error = str(error)
    rows = predictor.predict_arrays(pixels) if pixels else np.zeros((0, predictor.num_classes))
    for position, row in zip(positions, rows):
        answers[position].probabilities = row.tolist()
    elapsed = (time.perf_counter() - started) * 1000
    for answer in answers:
        answer.model_ms, answer.batch_size = elapsed, len(images)
    return answers


class ModelCache:
    """Predictors kept loaded, least recently used evicted first once their memory passes the budget.

    A model is known by its file and modification time, so replacing a file reloads it.
    """

    def __init__(self, budget_bytes: int, load: Callable[[Path], Predictor] = Predictor):
        self._cache = cachetools.LRUCache(maxsize=budget_bytes, getsizeof=lambda predictor: predictor.memory_bytes)
        self._load = load
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, path: Path) -> Predictor:
        path = Path(path)
        key = (str(path.resolve()), path.stat().st_mtime_ns)
        with self._lock:
            predictor = self._cache.get(key)
            if predictor is None:
                predictor = self._load(path)
                self.loads += 1
                try:
                    self._cache[key] = predictor
                except ValueError:
                    pass  # larger than the whole budget: answer with it, keep nothing
            return predictor

    @property
    def keys(self) -> list[str]:
        return [path for path, _ in self._cache.keys()]


class MicroBatcher:
    """Takes single images from many threads and runs them through one predictor in batches."""

    def __init__(self, predictor: Predictor, *, max_batch: int = 32, window: float = 0.002):
        self.predictor, self.max_batch, self.window = predictor, max_batch, window
        self._queue: queue.Queue[tuple[bytes, Future]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    def submit(self, image: bytes) -> Future:
        future: Future = Future()
        self._queue.put((image, future))
        return future

    def predict(self, image: bytes, timeout: float | None = 60) -> Answer:
        return self.submit(image).result(timeout)

    def _take(self) -> list[tuple[bytes, Future]]:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.window
        while len(batch) < self.max_batch:
            try:  # with no time left, still takes whatever is already queued
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            try:
                answers = predict_each(self.predictor, [image for image, _ in batch])
            except Exception as error:  # a bug must fail the requests, not kill the thread
                for _, future in batch:
                    future.set_exception(error)
                continue
            for (_, future), answer in zip(batch, answers):
                future.set_result(answer)
