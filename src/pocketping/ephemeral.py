"""Events that are published and never stored: someone is typing, the team has a message.

Each is built by one function here, whoever sends it (the widget, the inbox, a platform,
the AI); ``Delivered`` tells a visitor's tabs once per message, whoever saw it first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from pocketping.hub import Event, Hub


def typing_event(project_id: str, session_id: str, *, sender: str, active: bool, origin: str,
                 operator_name: str | None = None, type_: str = "typing") -> Event:
    """"<name> is typing": visitors' typing goes to the team only; the team's and the AI's also
    to the visitor's tabs."""
    data: dict[str, Any] = {"sender": sender, "active": active}
    frame: dict[str, Any] | None = None
    if sender != "visitor":
        data["operatorName"] = operator_name
        frame = {"type": "typing", "sender": sender, "active": active, "operatorName": operator_name}
    return Event(type_, project_id, session_id, data=data, widget_frame=frame, origin=origin)


def delivered_event(project_id: str, session_id: str, message_id: str, seq: int, *, origin: str | None) -> Event:
    return Event("message.delivered", project_id, session_id, data={"messageId": message_id, "seq": seq},
                 widget_frame={"type": "delivered", "seq": seq}, origin=origin)


class Delivered:
    """A visitor's message reached the team (a platform thread, an open inbox): the widget
    shows it as delivered, once per message however many places got it."""

    def __init__(self, hub: Hub, remember: int = 10_000) -> None:
        self.hub = hub
        self.remember = remember
        self._told: OrderedDict[str, None] = OrderedDict()

    def announce(self, project_id: str, session_id: str, message_id: str, seq: int, *,
                 origin: str | None = None) -> None:
        if message_id in self._told:
            return
        self._told[message_id] = None
        while len(self._told) > self.remember:
            self._told.popitem(last=False)
        self.hub.publish(delivered_event(project_id, session_id, message_id, seq, origin=origin))
