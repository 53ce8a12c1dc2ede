"""Automatic model tuning on real data, early stopping off against on, in the same command.

A version of photo-like crops (four classes, ``--side`` px) is built by a real Celery worker; then two tuning
jobs of ``--trials`` trials, ``--parallel`` at a time, train on it through the tuning engine, the first with
early stopping off and the second with it on (SageMaker's TrainingJobEarlyStoppingType Auto: Optuna's median
rule after each epoch). Both search the same Grid (three learning rates by two batch sizes; the lowest rate is
one AWS's recommended range, 1e-6 to 0.5, is full of), so they train the same set of trials, in their own order:
the difference in time is what stopping trials that fall behind saves.
Printed: each trial's validation accuracy and epochs, the best against the median trial, and each run's wall
time. Targets: the best beats the median trial; the run with early stopping finishes sooner.

It uses its own PostgreSQL database (``--database``, dropped and made anew), a Redis database of its own and a
temporary media folder; the worker is started here (``celery -A workers worker -Q cpu,gpu -c PARALLEL``).

    python benchmarks/tuning.py [--trials 6] [--parallel 2] [--epochs 10] [--side 32] [--per-class 40]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RANGES = {"CategoricalParameterRanges": [{"Name": "learning_rate", "Values": ["0.1", "0.002", "0.00002"]},
                                         {"Name": "mini_batch_size", "Values": ["8", "16"]}]}


def _database(name: str) -> str:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def _setup(env: dict[str, str]):
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "webapp.config.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return get_user_model().objects.create_user(username="bench", password="bench-password-42")


def _worker(env: dict[str, str], parallel: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "cpu,gpu", "-n",
                             "bench@%h", "--concurrency", str(parallel), "-l", "WARNING"], cwd=REPO,
                            env={**os.environ, **env}, start_new_session=True)


def _tune(user, version, args, *, early_stopping: bool) -> dict:
    from webapp.tuning.models import TuningJob
    from webapp.tuning.services import tuning_create

    static = {"num_layers": "20", "image_shape": f"3,{args.side},{args.side}", "epochs": str(args.epochs),
              "optimizer": "sgd", "augmentation_type": "crop"}
    started = time.monotonic()
    tuning = tuning_create(owner=user, name=f"bench-{'on' if early_stopping else 'off'}", strategy="Grid",
                           version=version, ranges=RANGES, static_hyperparameters=static, max_jobs=args.trials,
                           max_parallel=args.parallel, early_stopping=early_stopping)
    while not tuning.finished_state:
        time.sleep(0.5)
        tuning.refresh_from_db()
    seconds = time.monotonic() - started
    if tuning.status != TuningJob.Status.COMPLETED:
        raise SystemExit(f"tuning job {tuning.name} ended {tuning.status}: {tuning.reason}")
    trials = list(tuning.trials.select_related("job").order_by("number"))
    return {"seconds": seconds, "trials": trials, "best": tuning.best_job_id}


def _report(label: str, run: dict) -> list[float]:
    print(f"\n{label}: {run['seconds']:.1f} s")
    finished = []
    for trial in run["trials"]:
        job = trial.job
        accuracy = trial.objective if trial.objective is not None else job.metrics.get("validation:accuracy")
        mark = " best" if job.id == run["best"] else " stopped early" if trial.early_stopped else ""
        print(f"  trial {trial.number}: lr {trial.tuned['learning_rate']:>7} batch {trial.tuned['mini_batch_size']:>2}"
              f"  epochs {job.epoch + 1:>2}  validation accuracy {accuracy if accuracy is not None else float('nan'):.3f}"
              f"{mark}")
        if trial.objective is not None:
            finished.append(trial.objective)
    return finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--side", type=int, default=32)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--database", default="icstudio_bench_tuning")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="icstudio-tuning-") as folder:
        env = {"DATABASE_URL": _database(args.database), "MEDIA_ROOT": str(Path(folder) / "media"),
               "REDIS_URL": args.redis, "ICSTUDIO_VAR": str(Path(folder) / "var")}
        import redis

        redis.Redis.from_url(args.redis).flushdb()
        user = _setup(env)
        worker = _worker(env, args.parallel)
        try:
            from tests.support.api import api_client, photo_version
            from webapp.datasets.models import DatasetVersion

            version = DatasetVersion.objects.get(id=photo_version(api_client(user), per_class=args.per_class,
                                                                  size=args.side, timeout=300))
            print(f"version: {version.num_training_samples} training images of {len(version.class_names)} classes, "
                  f"{args.side} px; {args.trials} trials, {args.parallel} at a time, {args.epochs} epochs each")
            off = _tune(user, version, args, early_stopping=False)
            on = _tune(user, version, args, early_stopping=True)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    accuracies = _report("early stopping off", off)
    _report("early stopping on", on)
    best, median = max(accuracies), statistics.median(accuracies)
    print(f"\nbest trial {best:.3f} vs the median trial {median:.3f}: {'beats it' if best > median else 'DOES NOT beat it'}")
    print(f"early stopping on: {on['seconds']:.1f} s vs off: {off['seconds']:.1f} s "
          f"(ratio {on['seconds'] / off['seconds']:.2f}; {sum(t.early_stopped for t in on['trials'])} trials stopped "
          f"early, {sum(t.job.epoch + 1 for t in on['trials'])} epochs trained vs "
          f"{sum(t.job.epoch + 1 for t in off['trials'])})")


if __name__ == "__main__":
    main()
