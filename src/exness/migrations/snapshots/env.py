"""Alembic environment of the snapshot database (snapshots)."""

from exness.adapters.db.models import SnapshotBase
from exness.migrations.environment import run

run("alembic_version_snapshots", SnapshotBase.metadata, snapshot_set=True)
