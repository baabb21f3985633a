"""What every gateway feature builds on: pagination, command forwarding, the service client,
personal fields read from their owning service (`personal`), counts of people with small
cells suppressed (`figures`), the SQLite projection, the subscription broadcaster and the
feature interface."""
