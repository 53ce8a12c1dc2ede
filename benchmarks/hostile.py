"""What three attacks cost the web process, on a reference commit and on this tree, in the same command:
a zip whose member lies about its size, a 1 GiB POST with no login, and a model.tar.gz bomb.

    python benchmarks/hostile.py [--reference 80731ea] [--zip-mb 1024] [--post-mb 1024] [--tar-mb 2048]

For each tree a fresh SQLite database and state folder are made, and each attack gets a fresh uvicorn process
(the tree's own ``webapp``), so its peak RSS (VmHWM) is the attack's alone. Disk is the most bytes
seen under the process's temporary and media folders, or held open there unlinked, while the attack ran
(sampled every 20 ms), and what was left after it.
The reference commit defaults to the last one before the hardening of issue 11; everything runs on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile.crafted import lying_zip, model_tar  # noqa: E402
from tests.hostile.webprocess import PASSWORD, WebProcess, folder_bytes, start_web_process  # noqa: E402

MB = 1 << 20
_ZEROS = bytes(MB)


class DiskWatch(threading.Thread):
    """The most bytes seen under the server's temp and media folders while an attack runs."""

    def __init__(self, server: WebProcess):
        super().__init__(daemon=True)
        self.server, self.peak, self.running = server, 0, True

    def run(self) -> None:
        while self.running:
            try:
                now = folder_bytes(self.server.tmp) + folder_bytes(self.server.media) + self.server.held_temp_bytes()
                self.peak = max(self.peak, now)
            except FileNotFoundError:
                pass  # a temp file vanished while it was being counted
            time.sleep(0.02)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def prepare_tree(reference: str, folder: Path) -> Path:
    """The reference commit's files (``git archive``), so its server runs its own code."""
    tree = folder / "tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", reference], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def prepare_database(code: Path, folder: Path) -> dict[str, str]:
    env = {**os.environ, "ICSTUDIO_VAR": str(folder / "var"), "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
           "SECRET_KEY": "benchmark-only"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=code, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "shell", "-c",
                    "from django.contrib.auth.models import User; "
                    f"User.objects.create_user(username='mallory', password={PASSWORD!r})"],
                   cwd=code, env=env, check=True)
    return env


def anonymous_post(server: WebProcess, path: str, megabytes: int) -> str:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-image\r\n"
            f"Content-Length: {megabytes * MB}\r\n\r\n").encode()
    answer = server.raw(head, (_ZEROS for _ in range(megabytes)), timeout=120)
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "connection closed"


def upload_zip(server: WebProcess, payload: Path) -> str:
    session = server.session("mallory")
    dataset = session.post(f"{server.url}/api/datasets/", json={"name": "attack"}, timeout=60).json()["id"]
    with payload.open("rb") as file:
        answer = session.post(f"{server.url}/api/datasets/{dataset}/uploads/", files={"files": ("lying.zip", file)},
                              timeout=600)
    return f"HTTP {answer.status_code}"


def import_model(server: WebProcess, payload: Path) -> str:
    session = server.session("mallory")
    with payload.open("rb") as file:
        answer = session.post(f"{server.url}/api/models/", files={"artifact": ("model.tar.gz", file)},
                              data={"name": "bomb"}, timeout=600)
    return f"HTTP {answer.status_code}"


def measure(code: Path, env: dict[str, str], folder: Path, attack) -> dict:
    server = start_web_process(env["DATABASE_URL"], folder / "media", folder, code=code,
                               ICSTUDIO_VAR=env["ICSTUDIO_VAR"], SECRET_KEY=env["SECRET_KEY"])
    try:
        baseline = server.rss_mb()
        watch = DiskWatch(server)
        watch.start()
        try:
            outcome = attack(server)
        except requests.RequestException as error:
            outcome = f"client error: {type(error).__name__}"
        peak_disk = watch.stop()
        return {"outcome": outcome, "rss_before": baseline, "peak_rss": server.peak_rss_mb(),
                "peak_disk": peak_disk / MB, "left": (folder_bytes(server.tmp)) / MB}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="80731ea", help="git revision to compare with (default: before issue 11)")
    parser.add_argument("--zip-mb", type=int, default=1024, help="what the lying zip member inflates to")
    parser.add_argument("--post-mb", type=int, default=1024, help="size of the anonymous POST")
    parser.add_argument("--tar-mb", type=int, default=2048, help="size of the tar bomb's member")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="icstudio-hostile-") as temp:
        temp = Path(temp)
        payloads = temp / "payloads"
        payloads.mkdir()
        zip_payload = lying_zip(payloads / "lying.zip", inflated_mb=args.zip_mb)
        tar_payload = model_tar(payloads / "model.tar.gz", params_mb=args.tar_mb)
        print(f"payloads: lying zip {zip_payload.stat().st_size / MB:.1f} MB (inflates to {args.zip_mb} MB), "
              f"tar bomb {tar_payload.stat().st_size / MB:.1f} MB (unpacks to {args.tar_mb} MB)")
        attacks = {
            "lying zip upload": lambda server: upload_zip(server, zip_payload),
            f"{args.post_mb} MB anonymous POST /invocations": lambda server: anonymous_post(server, "/invocations",
                                                                                              args.post_mb),
            f"{args.post_mb} MB anonymous POST uploads": lambda server: anonymous_post(
                server, "/api/datasets/1/uploads/", args.post_mb),
            "model.tar.gz bomb import": lambda server: import_model(server, tar_payload),
        }
        trees = {f"reference {args.reference}": prepare_tree(args.reference, temp / "reference"), "this tree": REPO}
        results: dict[str, dict[str, dict]] = {}
        for label, code in trees.items():
            folder = temp / label.split()[0]
            folder.mkdir(exist_ok=True)
            env = prepare_database(code, folder)
            for number, (name, attack) in enumerate(attacks.items()):
                results.setdefault(name, {})[label] = measure(code, env, folder / f"attack-{number}", attack)
    print(f"\n{'attack':40} {'tree':22} {'answer':28} {'RSS MB (start→peak)':>20} {'disk MB peak':>13} {'left':>6}")
    for name, by_tree in results.items():
        for label, row in by_tree.items():
            print(f"{name:40} {label:22} {row['outcome'][:28]:28} "
                  f"{row['rss_before']:>8.0f} → {row['peak_rss']:>7.0f}   {row['peak_disk']:>11.1f} {row['left']:>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
