"""How the web process and the serving workers talk: Redis lists, one request queue and one reply per request.

A request is a JSON header line and the image bytes after it. The worker answers on the request's
own reply list, which the web process waits on with BLPOP; both hops cost well under a millisecond,
where a Celery task and its result backend would cost several and could not be batched together.
Neither side imports the other: no MXNet here, no Django in the worker.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

QUEUE = "icstudio:serving:requests"
WORKER_PREFIX = "icstudio:serving:worker:"
REPLY_PREFIX = "icstudio:serving:reply:"
REPLY_TTL_SECONDS = 60
HEARTBEAT_TTL_SECONDS = 10


@dataclass
class Request:
    id: str
    artifact: str  # absolute path of the model.tar.gz
    deadline: float  # time.time() after which nobody waits for the answer
    image: bytes

    def encode(self) -> bytes:
        header = {"id": self.id, "artifact": self.artifact, "deadline": self.deadline}
        return json.dumps(header).encode() + b"\n" + self.image

    @classmethod
    def decode(cls, raw: bytes) -> Request:
        header, _, image = raw.partition(b"\n")
        fields = json.loads(header)
        return cls(id=fields["id"], artifact=fields["artifact"], deadline=float(fields["deadline"]), image=image)

    @property
    def expired(self) -> bool:
        return time.time() > self.deadline


def reply_key(request_id: str) -> str:
    return REPLY_PREFIX + request_id


def encode_reply(*, probabilities=None, error: str | None = None, kind: str = "", model_ms: float = 0.0,
                 batch_size: int = 1, worker: str = "") -> bytes:
    """``kind`` says whose fault an error is: ``image`` (the request's) or ``model`` (the artifact's)."""
    return json.dumps({"probabilities": probabilities, "error": error, "kind": kind, "model_ms": model_ms,
                       "batch_size": batch_size, "worker": worker}).encode()
