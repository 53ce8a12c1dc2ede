"""Plain helpers the tests share: functions and constants, no fixtures (those live in the conftest.py that
covers every test using them, where pytest finds them without an import). A test imports from here, never
from a conftest.py or another test module."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
