"""Commands: every synchronous Graph write (create, state, settings, delete) as a durable row."""
