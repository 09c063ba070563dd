"""The bridge framework: keeps a live ``Bridge`` per configured bridge, delivers the outbox
to them, and turns what operators do in their threads into ordinary actions."""
