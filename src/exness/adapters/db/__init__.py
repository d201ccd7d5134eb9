"""PostgreSQL: models, migrations, the DB processor's writer, snapshots, reads for the API."""
