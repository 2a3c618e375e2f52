"""The services every door calls: CRUD, customers, transfer, access, preconditions.

The REST API (`api/`) and the web console (`console/`) are thin doors over these
functions: they authenticate, read their input, call a service and answer. Services speak
only the domain (`Access`, objects, the `Refused` tree of errors.py): never HTTP, never a
template. Writes go through a `Writer` (writers.py), the one seam between standalone and
Kubernetes mode.
"""
