"""The only code that talks to the Kubernetes API server.

`client` (the HTTP client and login), `paths` and `kinds` (where each kind lives in the
API), `binding` and `namespaces` (which namespaces are bound to which customers),
`writer` with `moves`, `races` and `answers` (the REST API's writes of custom resources
and the API server's refusals as domain errors), `signing` (the audit annotations the
writer signs and the operator verifies). The operator (kopf handlers, state, publisher)
is `k8s/`; it, the API and the sinks reach the cluster only through this package.
"""
