"""Change review: dry runs (the plan of a request, nothing done) and a second person's approval."""
