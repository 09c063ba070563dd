"""The built-in web inbox: ``GET /inbox``, its JSON API and its WebSocket."""
