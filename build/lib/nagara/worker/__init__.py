"""The background runner: an outbox of jobs written in the change's own transaction."""
