"""The web app's fixtures (tests/webapp/conftest.py: media in a temporary folder, API clients, the real uvicorn
server, headless Chromium, the Channels layer on the test Redis), for the Tune page's tests."""
from tests.webapp.conftest import api, asgi_server, asgi_server_tls, channel_layer_redis, media, page

__all__ = ["api", "asgi_server", "asgi_server_tls", "channel_layer_redis", "media", "page"]  # found by name
