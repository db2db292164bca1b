"""Deadline alerts: deciding them into the ledger (`decide`), delivering them (`deliver`), the
ledger as people read it (`ledger`), the channels, the one-sender lock and the daemon. What is due
is the domain's (`closing.domain.alert_plan`)."""
