"""One router per concern; all mounted under /api/v1 (ops routes also at the root)."""
