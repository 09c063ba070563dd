"""`make bench`: PocketPing's relay measured against the bare WebSocket ceiling of its own stack."""
