"""Per-caller rate limiting, with counters in PostgreSQL shared by every API replica."""
