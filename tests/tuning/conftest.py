"""The web app's fixtures (tests/webapp/conftest.py: media in a temporary folder, API clients, the Channels layer on
the test Redis), for the tuning engine's tests."""
from tests.webapp.conftest import api, channel_layer_redis, media

__all__ = ["api", "channel_layer_redis", "media"]  # found by name
