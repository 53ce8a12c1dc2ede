"""``/ws/jobs/<id>/?after=<seq>``: a job's stored events after ``seq``, then its live stream.

The consumer joins the group before reading the history, so nothing published meanwhile is missed,
and drops live messages it has already replayed, so nothing arrives twice.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from webapp.training.models import JobEvent, TrainingJob

NOT_FOUND = 4404


class JobConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        user = self.scope.get("user")
        if not (user and user.is_authenticated and await self._owns(user)):
            await self.close(code=NOT_FOUND)
            return
        self.group = f"job.{self.job_id}"
        self.sent = self._after()
        self.replaying = True
        self.held: list[dict] = []
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        for message in await self._history(self.sent):
            await self._send(message)
        self.replaying = False
        for message in self.held:
            await self._send(message)
        self.held = []

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the stream is one-way; a client reconnects with ?after= to resume

    async def job_event(self, event):
        if self.replaying:
            self.held.append(event["message"])
        else:
            await self._send(event["message"])

    async def _send(self, message: dict) -> None:
        if message["seq"] <= self.sent:
            return
        self.sent = message["seq"]
        await self.send_json(message)

    def _after(self) -> int:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            return max(0, int(query.get("after", ["0"])[0]))
        except ValueError:
            return 0

    @database_sync_to_async
    def _owns(self, user) -> bool:
        return TrainingJob.objects.filter(id=self.job_id, owner=user).exists()

    @database_sync_to_async
    def _history(self, after: int) -> list[dict]:
        return [event.message() for event in JobEvent.objects.filter(job_id=self.job_id, seq__gt=after).select_related("job")]


class NoticeConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/notices/``: the signed-in user's notices (webapp/core/notices.py): jobs' state changes, versions'
    builds and batch transforms' progress, for the pages that show them. Nothing is replayed: a page fetches
    what it shows once when its socket (re)opens."""

    async def connect(self):
        user = self.scope.get("user")
        if not (user and user.is_authenticated):
            await self.close(code=NOT_FOUND)
            return
        self.group = f"user.{user.id}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def user_notice(self, event):
        await self.send_json(event["message"])
