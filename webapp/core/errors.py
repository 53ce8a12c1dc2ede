"""The one application error: a service refuses a write for a reason the user can act on.

Views and API views just call services; the API's exception handler (webapp/config/api_errors.py) turns a
``ServiceError`` into a 400 ``{"error": ..., "fields": {...}}``, and pages show its message.
"""
from __future__ import annotations


class ServiceError(ValueError):
    """A write refused for a reason the user can act on; ``field`` names the input at fault. A subclass may
    set ``problems`` (input name -> message) to report several inputs at once."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field

    def by_field(self) -> dict[str | None, str]:
        """Each input at fault and what is wrong with it (None: the request as a whole)."""
        return getattr(self, "problems", None) or {self.field: str(self)}
