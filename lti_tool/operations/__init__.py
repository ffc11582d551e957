"""What an admin runs and watches: `lti-tool doctor`, the /readyz and /metrics probes, the worker's heartbeat
and the log format. Reads the database and the settings; no view or service imports this package's views."""
