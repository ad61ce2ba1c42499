"""The audit log: an append-only record of every change made through the service."""
