"""Importing existing alerting configuration: Prometheus rule files, PrometheusRule objects,
Mimir/Cortex ruler namespaces and alertmanager.yml become alertplane manifests (docs/import.md).

Pure: text in, manifests and per-item refusals out. The doors (cli_import, the API's
/import) read files and bodies and decide what to do with the result.
"""
