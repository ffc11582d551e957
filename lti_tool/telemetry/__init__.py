"""The tool's instruments: Prometheus counters and the gauges read from the database, the worker's heartbeat, the
outbox's state, the schema's revision and the log format. Low in the layers: views, the worker and the probes use it."""
