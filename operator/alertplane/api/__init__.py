"""The HTTP door: health, metrics (and, later, the REST API and console)."""
