"""The database layer: the schema, the one place that opens transactions, and every SQL
statement."""
