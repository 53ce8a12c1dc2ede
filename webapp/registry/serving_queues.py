"""How the web process and the serving workers talk: Redis lists, a request queue per user and one reply per request.

A request is a JSON header line and the image bytes after it. The worker answers on the request's
own reply list, which the web process waits on with BLPOP; both hops cost well under a millisecond,
where a Celery task and its result backend would cost several and could not be batched together.
Neither side imports the other: no MXNet here, no Django in the worker.

Fairness: each owner's requests wait in a list of their own, and ``TURNS`` lists the owners who have
some waiting, each once. A worker takes the first owner's oldest request and, if more of theirs wait,
puts the owner at the back of ``TURNS``: users take turns, so one user's backlog of thousands delays
another user's request by one request per user ahead of it, not by the whole backlog. Both sides
change the lists in Lua scripts, which Redis runs whole, so an owner with requests is never left out
of ``TURNS``; one that a killed worker had taken out comes back with that owner's next request.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

QUEUE = "icstudio:serving:requests"  # the prefix of the owners' lists: QUEUE:<owner>
TURNS = "icstudio:serving:turns"
WORKER_PREFIX = "icstudio:serving:worker:"
REPLY_PREFIX = "icstudio:serving:reply:"
REPLY_TTL_SECONDS = 60
HEARTBEAT_TTL_SECONDS = 10
# Endpoints (webapp/sagemaker/endpoint_states.py): the artifacts kept warm, each with how many workers should hold
# it ({"count": n}), written whole by the web side; and the artifacts a worker could not load, with the reason.
WANTED = "icstudio:serving:wanted"
LOAD_FAILED = "icstudio:serving:load-failed"


@dataclass
class Request:
    id: str
    artifact: str  # absolute path of the model.tar.gz
    deadline: float  # time.time() after which nobody waits for the answer
    image: bytes
    owner: str = ""  # whose turn it is taken in (a user id)

    def encode(self) -> bytes:
        header = {"id": self.id, "artifact": self.artifact, "deadline": self.deadline, "owner": self.owner}
        return json.dumps(header).encode() + b"\n" + self.image

    @classmethod
    def decode(cls, raw: bytes) -> Request:
        header, _, image = raw.partition(b"\n")
        fields = json.loads(header)
        return cls(id=fields["id"], artifact=fields["artifact"], deadline=float(fields["deadline"]), image=image,
                   owner=str(fields.get("owner", "")))

    @property
    def expired(self) -> bool:
        return time.time() > self.deadline


def queue_key(owner: str) -> str:
    return f"{QUEUE}:{owner}"


# KEYS: the owner's list, TURNS. ARGV: the request, the owner.
ENQUEUE = """
redis.call('rpush', KEYS[1], ARGV[1])
if not redis.call('lpos', KEYS[2], ARGV[2]) then redis.call('rpush', KEYS[2], ARGV[2]) end
"""
# KEYS: TURNS. ARGV: an owner already taken from TURNS (by BLPOP), or "" to take the next; QUEUE.
# Returns that owner's oldest request (nil if none), and queues the owner again if more of theirs wait.
TAKE = """
local owner = ARGV[1]
if owner == '' then
  owner = redis.call('lpop', KEYS[1])
  if not owner then return false end
end
local queue = ARGV[2] .. ':' .. owner
local request = redis.call('lpop', queue)
if redis.call('llen', queue) > 0 and not redis.call('lpos', KEYS[1], owner) then
  redis.call('rpush', KEYS[1], owner)
end
return request
"""


def waiting(client) -> int:
    """Requests waiting for a worker, all owners together (a synchronous redis client)."""
    owners = client.lrange(TURNS, 0, -1)
    if not owners:
        return 0
    pipe = client.pipeline(transaction=False)
    for owner in owners:
        pipe.llen(queue_key(owner.decode()))
    return sum(pipe.execute())


def reply_key(request_id: str) -> str:
    return REPLY_PREFIX + request_id


def encode_reply(*, probabilities=None, error: str | None = None, kind: str = "", model_ms: float = 0.0,
                 batch_size: int = 1, worker: str = "") -> bytes:
    """``kind`` says whose fault an error is: ``image`` (the request's) or ``model`` (the artifact's)."""
    return json.dumps({"probabilities": probabilities, "error": error, "kind": kind, "model_ms": model_ms,
                       "batch_size": batch_size, "worker": worker}).encode()
