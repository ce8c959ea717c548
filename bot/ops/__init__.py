"""What operations watch: structured logs, the access log, readiness and metrics."""
