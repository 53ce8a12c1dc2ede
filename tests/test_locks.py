"""requirements/*.txt, the locks `./dev` and the images install: each pins every dependency pyproject.toml
asks for (extras too) within its range, the environment running these tests is exactly the dev lock,
and the image locks hold the same versions for what they share. So what CI tested is what gets installed,
never a version a resolver picked later."""
from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Each lock and the extras it holds besides the project's own dependencies.
LOCKS = {"dev": ("worker", "dev"), "worker": ("worker",), "gpu": ("gpu",)}


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / f"{lock}.txt").read_text()
    return {canonicalize_name(name): version
            for name, version in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", text, re.M)}


def _asked(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in
            project["dependencies"] + [r for extra in extras for r in project["optional-dependencies"][extra]]]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_dependency_of_the_project_and_its_extras_is_pinned_within_its_range(lock):
    pins = _pins(lock)
    for requirement in _asked(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"requirements/{lock}.txt does not pin {requirement.name}: run ./dev lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements/{lock}.txt pins {requirement.name}=={pins[name]}, outside {requirement}: run ./dev lock")


def test_the_environment_running_the_tests_is_the_dev_lock():
    installed = {name: _installed(name) for name in _pins("dev")}
    assert installed == _pins("dev"), "this environment differs from requirements/dev.txt: run ./dev to re-install"


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_the_dev_lock_is_whole():
    """Everything a pinned package needs here (its extras as the project asks them) is pinned too."""
    pins = _pins("dev")
    wanted_extras: dict[str, set[str]] = {}
    for requirement in _asked(LOCKS["dev"]):
        wanted_extras.setdefault(canonicalize_name(requirement.name), set()).update(requirement.extras)
    missing = []
    for name in pins:
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            missing.append(f"{name} is not installed")
            continue
        for text in requires:
            needed = Requirement(text)
            extras = wanted_extras.get(name, set()) | {""}
            if needed.marker and not any(needed.marker.evaluate({**default_environment(), "extra": e})
                                         for e in extras):
                continue
            if canonicalize_name(needed.name) not in pins:
                missing.append(f"{name} needs {needed}")
    assert missing == []


def test_the_image_locks_keep_the_tested_versions_and_the_gpu_one_cuda_mxnet():
    dev, worker, gpu = _pins("dev"), _pins("worker"), _pins("gpu")
    assert worker["mxnet"] == "1.9.1" and "mxnet-cu112" not in worker
    assert gpu["mxnet-cu112"] == "1.9.1" and "mxnet" not in gpu
    for lock, pins in (("worker", worker), ("gpu", gpu)):
        differing = {name: (version, dev[name]) for name, version in pins.items() if name in dev and dev[name] != version}
        assert differing == {}, f"requirements/{lock}.txt differs from the tested requirements/dev.txt: run ./dev lock"
