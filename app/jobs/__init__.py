"""Durable work: the PostgreSQL job queue (procrastinate), its tasks, the workers running them."""
