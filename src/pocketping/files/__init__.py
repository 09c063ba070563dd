"""Stored files (attachments): the blob stores, streamed encryption at rest, type sniffing and
image re-encoding. A library: no edges, no registration (the wiring builds the store)."""
