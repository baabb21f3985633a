"""Department ingest: department systems post CloudEvents into their own subjects."""
