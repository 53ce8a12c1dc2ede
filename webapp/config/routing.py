"""WebSocket routes."""
from django.urls import path

from webapp.training.consumers import JobConsumer, NoticeConsumer

websocket_urlpatterns = [
    path("ws/jobs/<int:job_id>/", JobConsumer.as_asgi()),
    path("ws/notices/", NoticeConsumer.as_asgi()),
]
