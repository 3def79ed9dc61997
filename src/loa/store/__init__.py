"""Tables, queries and migrations: SQLite (embedded default) and PostgreSQL."""
