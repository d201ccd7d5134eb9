"""Alembic migrations, hand-written, in two independent sets (SPEC §5).

- `main/`: users, assets (seeded), trades, price_bars; applied to DATABASE_URL, versioned in
  `alembic_version`.
- `snapshots/`: the engine's snapshots; applied to SNAPSHOT_URL (by default DATABASE_URL),
  versioned in `alembic_version_snapshots`, so both sets can share one database.

`exness.adapters.db.migrate.run_migrations` applies them in code; each set's env.py calls
`environment.run()` below. A migration never imports moving code (models, domain): it spells
out the tables and rows as they were when it was written.
"""
