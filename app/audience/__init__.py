"""Deployment audiences: members and exclusions of a rollout, changed in Graph-sized chunks."""
