"""The one database layer: SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL by URL."""

from posbon.store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
