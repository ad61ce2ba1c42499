"""Rollouts: one Graph deployment plus what Graph cannot hold (name, ticket, creator, history)."""
