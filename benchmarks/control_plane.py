"""The control plane a SageMaker user meets, measured against what it stands in front of.

S3: upload and download of a ``--mb`` MB file of random bytes (``train.rec``) through IC Studio's own web
server (uvicorn started as the launcher starts it, with the launcher's SeaweedFS store in its settings;
boto3 configured as a notebook is: a user's keys and ``AWS_ENDPOINT_URL``) against the same transfers
straight to the store with the store's own keys. Same boto3 and the same transfer settings (boto3's
defaults: 8 MB parts, 10 at a time, CRC32 checksums); each way is run ``--rounds`` times alternately (one
upload and the fastest of ``--downloads`` downloads a round), and the ratio is the median of each round's
pair (the machine's other load moves both). Target: ratio >= 0.8 both ways. Beside each ratio, the web server's CPU seconds per GB moved (median of the rounds): on a small
machine the front's CPU is taken from boto3 and the store, so it is the steadier figure to improve. The web
server's peak resident memory is printed too: bodies stream through, never held whole.

    python benchmarks/control_plane.py [--mb 500] [--rounds 5] [--downloads 3]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.processes import free_port, wait_for  # noqa: E402
from webapp.launch import web_environment  # noqa: E402


def start_store(state: Path):
    """weed mini exactly as the launcher starts it (webapp/embedded_store.py), answering when this returns."""
    from webapp.embedded_store import EmbeddedStore, free_ports, wait_until_answering

    store = EmbeddedStore(state, "BENCH" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30), free_ports())
    process = subprocess.Popen(store.command(), env=store.environment(dict(os.environ)), stdout=subprocess.DEVNULL,
                               start_new_session=True)
    wait_until_answering(store, process)
    return store, process


def user_keys(env: dict[str, str]) -> tuple[str, str]:
    """A database of the benchmark's own, migrated, with one user and an access key as the account page makes."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "webapp.config.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from webapp.accounts.services import access_key_create

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench", password="bench-password-42")
    key, secret = access_key_create(user=user, name="benchmark")
    return key.access_key_id, secret


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time so far of process ``pid``, all its threads (proc(5): utime, stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def transfer(client, bucket: str, source: Path, back: Path, pid: int,
             downloads: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Seconds for upload_file of ``source`` and for the fastest of ``downloads`` download_files of it, and
    process ``pid``'s CPU seconds for the upload and per download (their mean); the bytes checked equal.
    Dirty pages are written out before each timed transfer, so that one's writeback does not land in
    the next one's time."""
    os.sync()
    cpu, started = cpu_seconds(pid), time.perf_counter()
    client.upload_file(str(source), bucket, source.name)
    up, up_cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    down, down_cpu = float("inf"), 0.0
    for _ in range(downloads):
        back.unlink(missing_ok=True)
        os.sync()
        cpu, started = cpu_seconds(pid), time.perf_counter()
        client.download_file(bucket, source.name, str(back))
        down = min(down, time.perf_counter() - started)
        down_cpu += (cpu_seconds(pid) - cpu) / downloads
        if _digest(back) != _digest(source):
            raise SystemExit(f"{back} came back different from {source}")
    return (up, down), (up_cpu, down_cpu)


def _digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(8 << 20):
            digest.update(block)
    return digest.digest()


def s3_section(args, state: Path) -> None:
    import boto3

    store, store_process = start_store(state)
    env = {**os.environ, "ICSTUDIO_VAR": str(state), "DATABASE_URL": f"sqlite:///{state / 'bench.sqlite3'}",
           **store.settings_for_children()}
    env = {name: value for name, value in env.items() if not name.startswith("AWS_")}
    web = None
    try:
        key_id, secret = user_keys(env)
        port = free_port()
        # As the launcher runs it (webapp/launch.py).
        web = subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--host",
                                "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
                               cwd=REPO, env=web_environment(env))
        wait_for(port, web)
        source = state / "train.rec"
        with source.open("wb") as file:
            for _ in range(args.mb):
                file.write(os.urandom(1 << 20))
        back = state / "back.rec"

        session = boto3.session.Session()
        direct = session.client("s3", endpoint_url=store.endpoint_url, region_name="us-east-1",
                                aws_access_key_id=store.access_key_id, aws_secret_access_key=store.secret_access_key)
        # A notebook's client: what aws_environment() exports, nothing more (path-style is botocore's own
        # choice for a custom endpoint).
        front = session.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                               aws_access_key_id=key_id, aws_secret_access_key=secret)
        direct.create_bucket(Bucket="bench-direct")
        front.create_bucket(Bucket="bench-front")
        best = {"direct": [float("inf")] * 2, "IC Studio": [float("inf")] * 2}
        paired: list[list[float]] = [[], []]  # each round's IC Studio / direct, the two run back to back
        web_cpu: list[list[float]] = [[], []]  # the web server's CPU seconds per GB, each round through IC Studio
        for _ in range(args.rounds):
            seconds = {}
            for name, client, bucket in (("direct", direct, "bench-direct"), ("IC Studio", front, "bench-front")):
                (up, down), cpu = transfer(client, bucket, source, back, web.pid, args.downloads)
                seconds[name] = up, down
                best[name] = [min(best[name][0], up), min(best[name][1], down)]
                line = f"  {name:9s}  upload {args.mb / up:7.1f} MB/s   download {args.mb / down:7.1f} MB/s"
                if name == "IC Studio":
                    for index in (0, 1):
                        web_cpu[index].append(cpu[index] * 1000 / args.mb)
                    line += f"   web server CPU: up {web_cpu[0][-1]:.2f} s/GB, down {web_cpu[1][-1]:.2f} s/GB"
                print(line, flush=True)
            for index in (0, 1):
                paired[index].append(seconds["direct"][index] / seconds["IC Studio"][index])
        print(f"\nS3, {args.mb} MB .rec, best of {args.rounds} rounds ({args.downloads} downloads each; boto3 defaults "
              f"both ways); the ratio is the median "
              f"of each round's pair, as the machine's other load moves both; the web server's CPU per GB is the "
              f"median of the rounds:")
        print("| transfer | store directly | through IC Studio | ratio (target >= 0.8) | web server CPU |")
        print("|---|---|---|---|---|")
        for index, what in enumerate(("upload_file", "download_file")):
            reference, ours = args.mb / best["direct"][index], args.mb / best["IC Studio"][index]
            print(f"| {what} | {reference:.1f} MB/s | {ours:.1f} MB/s | {statistics.median(paired[index]):.2f} "
                  f"(rounds: {', '.join(f'{ratio:.2f}' for ratio in paired[index])}) | "
                  f"{statistics.median(web_cpu[index]):.2f} s/GB |")
        print(f"web server peak RSS: {peak_rss_mb(web.pid):.0f} MB for {args.mb} MB objects")
    finally:
        if web is not None:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)
        store_process.send_signal(signal.SIGTERM)
        try:
            store_process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(store_process.pid, signal.SIGKILL)
        store.remove_sockets()


# --- describe_training_job p50/p99 (SageMaker API through IC Studio): the "control" section. ---
def _finished_job_keys(env: dict[str, str]) -> tuple[str, str]:
    """A user with an access key and one finished API job, as CreateTrainingJob leaves it, in the benchmark's database."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "webapp.config.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from webapp.accounts.services import access_key_create
    from webapp.sagemaker.models import ApiJob
    from webapp.training.models import TrainingJob

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench-control", password="bench-password-42")
    key, secret = access_key_create(user=user, name="benchmark")
    now = timezone.now()
    job = TrainingJob.objects.create(owner=user, name="bench-describe", version=None, state=TrainingJob.State.SUCCEEDED,
                                     hyperparameters={"num_classes": "3", "num_training_samples": "48", "epochs": "2"},
                                     metrics={"train:accuracy": 1.0, "validation:accuracy": 0.9}, started=now,
                                     finished=now)
    request = {"TrainingJobName": job.name, "RoleArn": "arn:aws:iam::000000000000:role/bench",
               "AlgorithmSpecification": {"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/"
                                                           "image-classification:1", "TrainingInputMode": "File"},
               "OutputDataConfig": {"S3OutputPath": "s3://bench/output"}, "HyperParameters": job.hyperparameters,
               "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p2.xlarge", "VolumeSizeInGB": 50},
               "StoppingCondition": {"MaxRuntimeInSeconds": 3600}, "InputDataConfig": []}
    stamp = now.timestamp()
    ApiJob.objects.create(job=job, request=request, secondary_status="Uploading", training_started=now,
                          model_artifacts="s3://bench/output/bench-describe/output/model.tar.gz",
                          transitions=[{"Status": status, "StartTime": stamp, "EndTime": stamp, "StatusMessage": status}
                                       for status in ("Starting", "Downloading", "Training", "Uploading")])
    return key.access_key_id, secret


def describe_section(args, state: Path) -> None:
    """describe_training_job through IC Studio's web server, as the SDK's waiters and logs_for_job call it."""
    import boto3

    env = {**os.environ, "ICSTUDIO_VAR": str(state), "DATABASE_URL": f"sqlite:///{state / 'bench.sqlite3'}"}
    env = {name: value for name, value in env.items() if not name.startswith("AWS_")}
    key_id, secret = _finished_job_keys(env)
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--host", "127.0.0.1",
                            "--port", str(port), "--no-access-log", "--log-level", "warning"], cwd=REPO, env=env)
    try:
        wait_for(port, web)
        client = boto3.session.Session().client("sagemaker", endpoint_url=f"http://127.0.0.1:{port}",
                                                region_name="us-east-1", aws_access_key_id=key_id,
                                                aws_secret_access_key=secret)
        for _ in range(10):  # connections and Django's first requests
            client.describe_training_job(TrainingJobName="bench-describe")
        times = []
        for _ in range(args.describes):
            started = time.perf_counter()
            client.describe_training_job(TrainingJobName="bench-describe")
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"\ndescribe_training_job, {args.describes} calls one after another (SigV4 verified each time):")
        print("| call | p50 | p99 |")
        print("|---|---|---|")
        print(f"| describe_training_job | {p50:.1f} ms | {p99:.1f} ms |")
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=500, help="size of the .rec file moved through S3")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternate rounds each way; the ratio is their median (the machine's load is noisy)")
    parser.add_argument("--downloads", type=int, default=3,
                        help="downloads each round, the fastest timed (a download takes a second or two: one "
                             "pause of the machine's moves it by half)")
    parser.add_argument("--describes", type=int, default=300, help="describe_training_job calls timed (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="icstudio-control-plane-") as folder:
        state = Path(folder)
        s3_section(args, state)
        # --- describe_training_job p50/p99: called here, on the same web server setup ("control"). ---
        if args.describes:
            describe_section(args, state)


if __name__ == "__main__":
    main()
