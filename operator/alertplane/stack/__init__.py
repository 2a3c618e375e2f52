"""Real Prometheus, Alertmanager and PostgreSQL processes on loopback, for `make run`,
integration tests and benchmarks."""
