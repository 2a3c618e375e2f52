"""Desired state, status and the audit trail (SQLAlchemy 2; SQLite or PostgreSQL)."""
