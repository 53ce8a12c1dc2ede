"""Logging for every IC Studio process: plain lines for a terminal, or one JSON object per line
(``LOG_FORMAT=json``) for a log collector. Imports no Django, so the serving worker uses it too."""
from __future__ import annotations

import logging.config
import os

PLAIN = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
# Renamed to the keys collectors expect; anything passed as ``extra=`` (job, model, ...) is kept.
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(processName)s %(message)s"


def logging_config(level: str | None = None, fmt: str | None = None) -> dict:
    level = level or os.environ.get("LOG_LEVEL", "INFO")
    fmt = fmt or os.environ.get("LOG_FORMAT", "plain")
    formatter = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "format": JSON_FIELDS,
         "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}}
        if fmt == "json" else {"format": PLAIN}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"handlers": ["console"], "level": level},
        # Per-request lines from the ASGI server go through the same handler.
        "loggers": {"uvicorn": {"handlers": ["console"], "level": level, "propagate": False},
                    "uvicorn.error": {"level": level}, "uvicorn.access": {"level": level}},
    }


def configure(level: str | None = None, fmt: str | None = None) -> None:
    logging.config.dictConfig(logging_config(level, fmt))
