"""One router per resource: run, ops, info, health."""
