"""Outgoing webhooks and the public event stream, as a library: the planner (event log and
outbox rows, in the change's own transaction), the signed delivery, the public event bodies
and the live feed. The wiring plugs them in."""
