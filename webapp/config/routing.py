"""WebSocket routes; the training dashboard's live metrics join here (issue 4)."""
websocket_urlpatterns: list = []
