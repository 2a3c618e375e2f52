"""alertplane: per-customer alerting control plane for Prometheus and Alertmanager."""

__version__ = "0.1.0"
