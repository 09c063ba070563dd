"""The only code that changes state. Every change: validate, one transaction (with its
outbox rows), then publish to the hub after commit."""
