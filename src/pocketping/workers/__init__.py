"""Long-running loops: the outbox worker, the AI scheduler, the configuration watcher,
prunings and presence. Started by the wiring; they wait on the injected clock."""
