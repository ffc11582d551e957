"""What an admin runs and watches: `lti-tool doctor` and the /readyz and /metrics probes (the instruments they
read — counters, the worker's heartbeat, the outbox's state, the log format — are in :mod:`lti_tool.telemetry`)."""
