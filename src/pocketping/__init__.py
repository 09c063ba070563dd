"""PocketPing: a self-hostable live chat bridged to Telegram, Discord and Slack."""

__version__ = "0.1.0"
