"""Caller authentication: API keys and bearer JWTs, resolved to a principal with a role."""
