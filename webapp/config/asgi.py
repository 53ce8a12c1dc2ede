"""The ASGI entry point: S3 requests (signed for service s3) answered by S3Front, other HTTP through Django
(bodies guarded by BodyLimits), WebSockets through Channels (signed-in users only)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from webapp.config.body_limits import BodyLimits  # noqa: E402
from webapp.config.routing import websocket_urlpatterns  # noqa: E402
from webapp.config.same_origin import SameOriginValidator  # noqa: E402
from webapp.operations.upload_leftovers import upload_leftovers_remove  # noqa: E402
from webapp.s3.dispatch import S3Front  # noqa: E402

upload_leftovers_remove()  # temp files of uploads a killed predecessor was receiving

application = ProtocolTypeRouter({
    # Who asks and how much the route takes are decided before Django reads (and spools) the body.
    # S3 first: its bodies (up to 5 GB) are checked as they stream to the store, never spooled by Django.
    "http": S3Front(BodyLimits(django_application)),
    "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
