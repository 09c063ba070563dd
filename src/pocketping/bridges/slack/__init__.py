"""The Slack bridge: one thread per session. See docs/bridges/slack.md."""

from pocketping.bridges.slack.bridge import SlackBridge, create
from pocketping.bridges.slack.config import REQUIRED_SCOPES, SlackConfig, check_config
from pocketping.bridges.slack.events import SlackEventsRouter

__all__ = ["REQUIRED_SCOPES", "SlackBridge", "SlackConfig", "SlackEventsRouter", "check_config", "create"]
