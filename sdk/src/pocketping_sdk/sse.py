"""A small Server-Sent Events parser (the stream endpoint's format)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from pocketping_sdk.models import WebhookEvent


@dataclass
class SSEMessage:
    id: str | None = None
    event: str | None = None
    data: str = ""


class SSEParser:
    """Feed lines; get complete messages. A message with only an ``id`` moves the cursor."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._event: str | None = None
        self._data: list[str] = []
        self._has_id = False

    def feed(self, line: str) -> Iterator[SSEMessage]:
        line = line.rstrip("\r\n")
        if not line:
            if self._data or self._has_id:
                yield SSEMessage(self._id, self._event, "\n".join(self._data))
            self._event, self._data, self._has_id = None, [], False
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
            self._has_id = True


class EventReader:
    """Stream lines in, events out, keeping the cursor (the last ``id:`` seen) to resume from."""

    def __init__(self, cursor: int | None) -> None:
        self.cursor = cursor
        self._parser = SSEParser()

    def feed(self, line: str) -> Iterator[WebhookEvent]:
        for message in self._parser.feed(line):
            if message.id is not None and message.id.isdigit():
                self.cursor = int(message.id)
            if message.data:
                yield WebhookEvent.from_api(json.loads(message.data))
