"""Idempotency-Key: a retried change is answered from its first response, never done twice."""
