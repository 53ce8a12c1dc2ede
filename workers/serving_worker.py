"""``python -m workers.serving_worker``: a serving worker, answering the web app's prediction requests.

It keeps models loaded (an LRU within ``--memory-mb``), takes every request waiting (up to
``--max-batch``, waiting ``--batch-window-ms`` for more), taking turns between the users who have
some waiting (see webapp/registry/serving_queues.py), groups them by model and answers each group with
one forward pass. Run as many as the machines allow: they share the queues. Between requests it
also loads the models SageMaker endpoints name, up to each endpoint's instance count of workers, so an
endpoint is answered warm (webapp/sagemaker/endpoint_states.py).
It needs only Redis and the media files, never the database.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import threading
import time
from collections import defaultdict
from pathlib import Path

import redis

from webapp.registry.serving_queues import (HEARTBEAT_TTL_SECONDS, LOAD_FAILED, QUEUE, REPLY_TTL_SECONDS, TAKE,
                                              TURNS, WANTED, WORKER_PREFIX, Request, encode_reply, reply_key)

log = logging.getLogger("icstudio.serving")


class ServingWorker:
    def __init__(self, redis_url: str, *, memory_bytes: int = 2 << 30, max_batch: int = 32, window: float = 0.002,
                 name: str | None = None):
        from classifier.inference import default_context
        from classifier.batched_prediction import ModelCache

        self.redis = redis.Redis.from_url(redis_url, socket_keepalive=True)
        self._take_one = self.redis.register_script(TAKE)
        self.cache = ModelCache(memory_bytes)
        self.max_batch, self.window = max_batch, window
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.device = str(default_context())
        self.stopped = threading.Event()
        self.answered = 0
        self.batches = 0
        self._beat_at = 0.0

    def run(self) -> None:
        log.info("serving worker %s on %s, waiting for requests", self.name, self.device)
        retry_in = 1
        try:
            while not self.stopped.is_set():
                try:
                    self._heartbeat()
                    raw = self._take()
                    if raw:
                        self._answer_safely(raw)
                    retry_in = 1
                except (redis.ConnectionError, redis.TimeoutError) as error:
                    # Redis restarting (the launcher brings a dead one back on its port): wait, don't exit.
                    log.warning("lost Redis (%s); trying again in %d s", error, retry_in)
                    self.stopped.wait(retry_in)
                    retry_in = min(retry_in * 2, 30)
                    self._beat_at = 0.0
        finally:
            try:
                self.redis.delete(WORKER_PREFIX + self.name)
            except redis.RedisError:
                pass  # its heartbeat expires by itself

    def stop(self) -> None:
        self.stopped.set()

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._beat_at < 2:
            return
        self._beat_at = now
        self._keep_wanted_warm()
        self.redis.set(WORKER_PREFIX + self.name, json.dumps({
            "device": self.device, "models": self.cache.keys, "answered": self.answered, "batches": self.batches,
        }), ex=HEARTBEAT_TTL_SECONDS)

    def _keep_wanted_warm(self) -> None:
        """Load the endpoints' models that fewer workers hold than their endpoints ask for (InitialInstanceCount),
        so an endpoint is InService only once a worker can answer it at once. One a worker cannot load is
        reported once, with the reason, and not tried again until the endpoint is made anew."""
        wanted = self.redis.hgetall(WANTED)
        if not wanted:
            return
        held = set(self.cache.keys)
        failed = set(self.redis.hkeys(LOAD_FAILED))
        missing = [(artifact.decode(), json.loads(value)) for artifact, value in wanted.items()
                   if artifact.decode() not in held and artifact not in failed]
        if not missing:
            return
        holders = self._holders()
        for artifact, want in missing:
            if holders.get(artifact, 0) >= int(want.get("count", 1)):
                continue
            try:
                self.cache.get(Path(artifact))
                log.info("warmed %s for an endpoint", artifact)
            except Exception as error:  # any reason a model cannot load is the endpoint's FailureReason
                log.warning("cannot warm %s: %s", artifact, error)
                self.redis.hset(LOAD_FAILED, artifact, f"the model cannot be loaded: {error}")

    def _holders(self) -> dict[str, int]:
        """How many other live workers hold each model (their heartbeats)."""
        counts: dict[str, int] = defaultdict(int)
        for key in self.redis.scan_iter(match=WORKER_PREFIX + "*", count=100):
            if key.decode() == WORKER_PREFIX + self.name:
                continue
            beat = self.redis.get(key)
            for artifact in json.loads(beat).get("models", []) if beat else []:
                counts[artifact] += 1
        return counts

    def _take(self) -> list[bytes]:
        first = self.redis.blpop([TURNS], timeout=1)
        if first is None:
            return []
        taken = [request for request in [self._take_one(keys=[TURNS], args=[first[1], QUEUE])] if request]
        deadline = time.monotonic() + self.window
        while len(taken) < self.max_batch:
            # One request per turn, the turns in one round trip: a batch holds every waiting user's oldest.
            pipe = self.redis.pipeline(transaction=False)
            for _ in range(self.max_batch - len(taken)):
                self._take_one(keys=[TURNS], args=["", QUEUE], client=pipe)
            more = [request for request in pipe.execute() if request]
            if more:
                taken.extend(more)
                continue
            if time.monotonic() >= deadline:
                break
            # Not BLPOP: Redis checks blocking timeouts on its cron tick (100 ms at hz 10), so a 2 ms
            # BLPOP can block for up to 100 ms. A few round trips a millisecond cost nothing.
            time.sleep(0.0003)
        return taken

    def _answer_safely(self, raw: list[bytes]) -> None:
        requests = []
        for item in raw:
            try:
                requests.append(Request.decode(item))
            except (ValueError, KeyError) as error:
                log.warning("dropped a malformed request: %s", error)
        try:
            self.answer(requests)
        except Exception as error:  # a bug must fail these requests, not stop the worker
            log.exception("answering %d requests failed", len(requests))
            pipe = self.redis.pipeline(transaction=False)
            for request in requests:
                pipe.rpush(reply_key(request.id), encode_reply(error=f"internal error: {error}", kind="model",
                                                               worker=self.name))
                pipe.expire(reply_key(request.id), REPLY_TTL_SECONDS)
            pipe.execute()

    def answer(self, requests: list[Request]) -> None:
        from classifier.errors import ClassifierError
        from classifier.batched_prediction import predict_each

        by_model: dict[str, list[Request]] = defaultdict(list)
        for request in requests:
            if not request.expired:  # its client gave up; spend nothing on it
                by_model[request.artifact].append(request)
        replies = []
        for artifact, group in by_model.items():
            try:
                predictor = self.cache.get(Path(artifact))
            except (ClassifierError, OSError) as error:
                log.warning("cannot load %s: %s", artifact, error)
                replies += [(r, encode_reply(error=f"the model cannot be loaded: {error}", kind="model",
                                             worker=self.name)) for r in group]
                continue
            answers = predict_each(predictor, [r.image for r in group])
            self.batches += 1
            for request, answer in zip(group, answers):
                replies.append((request, encode_reply(
                    probabilities=answer.probabilities, error=answer.error, kind="image" if answer.error else "",
                    model_ms=answer.model_ms, batch_size=answer.batch_size, worker=self.name)))
        pipe = self.redis.pipeline(transaction=False)
        for request, reply in replies:
            pipe.rpush(reply_key(request.id), reply)
            pipe.expire(reply_key(request.id), REPLY_TTL_SECONDS)
        pipe.execute()
        self.answered += len(replies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.serving_worker", description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--memory-mb", type=int, default=int(os.environ.get("SERVING_MEMORY_MB", 2048)),
                        help="models kept loaded, least recently used evicted first")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--batch-window-ms", type=float, default=2.0)
    parser.add_argument("--healthcheck", action="store_true",
                        help="exit 0 if a serving worker on this host is beating, else 1 (for container health)")
    args = parser.parse_args(argv)
    if args.healthcheck:
        found = redis.Redis.from_url(args.redis).keys(f"{WORKER_PREFIX}{socket.gethostname()}:*")
        return 0 if found else 1
    from webapp.config.logs import configure

    configure()
    worker = ServingWorker(args.redis, memory_bytes=args.memory_mb << 20, max_batch=args.max_batch,
                           window=args.batch_window_ms / 1000)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())  # finish the batch in hand, then leave
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
