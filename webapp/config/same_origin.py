"""Only this site's own pages open its WebSockets.

Channels' ``AllowedHostsOriginValidator`` checks the Origin's host name against ``ALLOWED_HOSTS`` and
ignores its scheme and port, so a page served by anything else on the same host (``http://localhost:9999``)
could open a socket with the user's cookies. Here the Origin must name exactly the site the browser
connected to: the Host header's host and port, and the request's scheme (``wss`` with ``https``), with that
host allowed. A connection without an Origin (not a browser) or without a Host header is refused too.
"""
from __future__ import annotations

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from channels.security.websocket import WebsocketDenier

DEFAULT_PORTS = {"http": "80", "https": "443"}


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def same_origin(origin: str | None, host: str | None, scheme: str) -> bool:
    """Whether ``origin`` (the Origin header) is the site at ``host`` (the Host header) over ``scheme``."""
    if not origin or not host:
        return False
    expected_scheme = "https" if scheme in ("wss", "https") else "http"
    origin_scheme, _, origin_netloc = origin.partition("://")
    if origin_scheme.lower() != expected_scheme or not origin_netloc or "/" in origin_netloc or "@" in origin_netloc:
        return False
    origin_domain, origin_port = split_domain_port(origin_netloc)
    host_domain, host_port = split_domain_port(host)
    default = DEFAULT_PORTS[expected_scheme]
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    return (bool(origin_domain) and origin_domain == host_domain and (origin_port or default) == (host_port or default)
            and validate_host(host_domain, allowed))


class SameOriginValidator:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator guards WebSocket connections only")
        if same_origin(_header(scope, b"origin"), _header(scope, b"host"), scope.get("scheme", "ws")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
