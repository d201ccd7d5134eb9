"""I/O only, no business rules: the Redis bus, PostgreSQL, the Backpack feed, mail, and the
embedded stores."""
