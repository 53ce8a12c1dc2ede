"""Typed environment variables that fail loudly on a wrong value."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    return default if value is None else [item.strip() for item in value.split(",") if item.strip()]


def private_file(path: Path, content: str = "") -> Path:
    """``path``, readable and writable by its owner only: made 0600 with ``content`` if missing (whole, by a
    hard link, so a process starting beside this one never reads it half-written), narrowed if wider."""
    if not path.exists():
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp makes 0600
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(content)
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: keep theirs
        finally:
            os.unlink(draft)
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o600)
        except PermissionError:
            pass  # not ours to change (another user's file); it stays as its owner left it
    return path
