"""Deadline alerts: the pure planner, the outbox (ledger and deliveries), the channels, the
one-sender lock and the daemon."""
