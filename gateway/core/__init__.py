"""What every gateway feature builds on: pagination, command forwarding, the service client,
the SQLite projection, the subscription broadcaster and the feature interface."""
