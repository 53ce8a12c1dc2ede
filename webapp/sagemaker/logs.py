"""CloudWatch Logs for training jobs: group ``/aws/sagemaker/TrainingJobs``, one stream per job named as
SageMaker names it (``<job>/algo-1-<epoch seconds it started>``), its events the job's stored log lines
(webapp.training.models.JobEvent), so ``Estimator.fit(logs=True)`` prints them as the job trains.

Tokens: ``f/<seq>`` (forward: events after that seq) and ``b/<seq>``; at the end, the token given is given back,
which is how the SDK's reader knows it has caught up."""
from __future__ import annotations

from datetime import datetime, timezone

from django.db.models import Max, Min

from webapp.aws.errors import AwsError
from webapp.training.models import JobEvent, TrainingJob

GROUP = "/aws/sagemaker/TrainingJobs"
MAX_EVENTS = 10000


def _not_found(message: str) -> AwsError:
    return AwsError(400, "ResourceNotFoundException", message)


def _group(request: dict) -> None:
    group = request.get("logGroupName") or (request.get("logGroupIdentifier") or "").rsplit(":log-group:", 1)[-1]
    if group != GROUP:
        raise _not_found("The specified log group does not exist.")


def stream_name(job: TrainingJob) -> str:
    started = job.started or job.created
    return f"{job.name}/algo-1-{int(started.timestamp())}"


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms) -> datetime:
    """CloudWatch's milliseconds since the epoch."""
    return datetime.fromtimestamp(int(ms) / 1000, timezone.utc)


def _stream(job: TrainingJob, region: str) -> dict:
    from webapp.sagemaker import arns

    name = stream_name(job)
    times = job.events.filter(kind=JobEvent.Kind.LOG).aggregate(first=Min("created"), last=Max("created"))
    first, last = times["first"], times["last"]
    row = {"logStreamName": name, "creationTime": _ms(job.started or job.created), "storedBytes": 0,
           "arn": f"arn:aws:logs:{region}:{arns.account_id(job.owner)}:log-group:{GROUP}:log-stream:{name}"}
    if first:
        row.update(firstEventTimestamp=_ms(first), lastEventTimestamp=_ms(last), lastIngestionTime=_ms(last))
    return row


def describe_log_streams(caller, request: dict) -> dict:
    _group(request)
    prefix = request.get("logStreamNamePrefix") or ""
    job_name = prefix.split("/", 1)[0]
    jobs = TrainingJob.objects.filter(owner=caller.user).exclude(name="").exclude(started=None)
    if job_name:
        jobs = jobs.filter(name__istartswith=job_name)
    streams = sorted((_stream(job, caller.region) for job in jobs), key=lambda s: s["logStreamName"],
                     reverse=bool(request.get("descending")))
    streams = [s for s in streams if s["logStreamName"].startswith(prefix)]
    limit = max(1, min(int(request.get("limit") or 50), 50))
    start = int(request.get("nextToken") or 0)
    answer = {"logStreams": streams[start:start + limit]}
    if start + limit < len(streams):
        answer["nextToken"] = str(start + limit)
    return answer


def _job_of_stream(caller, name: str) -> TrainingJob:
    job_name = (name or "").split("/", 1)[0]
    job = TrainingJob.objects.filter(owner=caller.user, name__iexact=job_name).exclude(started=None).first()
    if job is None or stream_name(job) != name:
        raise _not_found("The specified log stream does not exist.")
    return job


def _seq(token: str) -> tuple[str, int]:
    direction, _, number = (token or "").partition("/")
    if direction not in ("f", "b") or not number.isdigit():
        raise AwsError(400, "InvalidParameterException", "The specified nextToken is not valid.")
    return direction, int(number)


def get_log_events(caller, request: dict) -> dict:
    _group(request)
    if not request.get("logStreamName"):
        raise AwsError(400, "InvalidParameterException", "1 validation error detected: Value null at 'logStreamName' "
                                                         "failed to satisfy constraint: Member must not be null")
    job = _job_of_stream(caller, request["logStreamName"])
    limit = max(1, min(int(request.get("limit") or MAX_EVENTS), MAX_EVENTS))
    events = job.events.filter(kind=JobEvent.Kind.LOG)
    if request.get("startTime") is not None:
        events = events.filter(created__gte=_moment(request["startTime"]))
    if request.get("endTime") is not None:
        events = events.filter(created__lt=_moment(request["endTime"]))
    token = request.get("nextToken")
    forward = request.get("startFromHead", False)
    if token:
        direction, seq = _seq(token)
        forward = direction == "f"
        events = events.filter(seq__gt=seq) if forward else events.filter(seq__lt=seq)
    rows = list(events.order_by("seq")[:limit] if forward else reversed(events.order_by("-seq")[:limit]))
    answer = [{"timestamp": _ms(e.created), "message": e.data.get("line", ""), "ingestionTime": _ms(e.created)}
              for e in rows]
    if rows:
        following, preceding = f"f/{rows[-1].seq}", f"b/{rows[0].seq}"
    else:  # caught up: the same token again
        following = token if token and token.startswith("f/") else "f/0" if forward else f"f/{job.last_seq}"
        preceding = token if token and token.startswith("b/") else f"b/{job.last_seq + 1}"
    return {"events": answer, "nextForwardToken": following, "nextBackwardToken": preceding}


OPERATIONS = {"DescribeLogStreams": describe_log_streams, "GetLogEvents": get_log_events}
