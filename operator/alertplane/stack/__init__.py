"""The demo stack (`make run`): real Prometheus and Alertmanager on loopback, the demo
exporter, capture receivers and `alertplane serve`. Its process classes are also used by the
tests and benchmarks (tests/support/processes.py adds PostgreSQL)."""
