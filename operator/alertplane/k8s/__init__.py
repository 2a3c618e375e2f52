"""Kubernetes mode: the kopf operator. Custom resources are the truth; the core renders them."""
