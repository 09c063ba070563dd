"""A real uvicorn serving the real app on a free port, in a thread of its own.

Tests talk to it over real sockets (WebSocket, HTTP). ``call`` runs a coroutine on the
server's own event loop, for the few things a test must do from inside (create a project
the way the CLI would, read a raw row).
"""

from __future__ import annotations

from typing import Any

from pocketping.actions.services import Services
from pocketping.clock import Clock
from pocketping.config import Settings
from pocketping.relay.manager import BridgeManager
from pocketping.wiring import Node, build_services
from pocketping_testkit.uvicorn_thread import UvicornThread, free_port


class ServerThread(UvicornThread):
    def __init__(self, settings: Settings, *, clock: Clock | None = None, port: int | None = None) -> None:
        from pocketping.wiring import create_app

        port = port or free_port()
        self.settings = settings.model_copy(update={"port": port})
        self.services: Services = build_services(self.settings, clock=clock)
        app = create_app(self.settings, services=self.services)
        self.node: Node = app.state.node  # the running node: its workers, bridges, inbox sockets
        super().__init__(app, name="uvicorn", port=port, lifespan="on", ws_per_message_deflate=False,
                         ws_max_size=self.settings.websocket_max_bytes(), timeout_graceful_shutdown=2)

    @property
    def bridges(self) -> BridgeManager:
        """The running bridge manager (servers in tests run their workers)."""
        assert self.node.bridges is not None, "this server runs without workers"
        return self.node.bridges

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


def make_settings(database_url: str, data_dir: str, **overrides: Any) -> Settings:
    from pocketping.crypto import generate_key

    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "encryption_key": generate_key(),
        "rate_limit_messages_per_minute": 0,
        "rate_limit_connections_per_minute": 0,
        "telegram_api_url": "http://127.0.0.1:9/telegram",
        "slack_api_url": "http://127.0.0.1:9/slack/",
        "discord_api_url": "http://127.0.0.1:9/discord",
    }
    values.update(overrides)
    return Settings(**values)


__all__ = ["ServerThread", "build_services", "free_port", "make_settings"]
