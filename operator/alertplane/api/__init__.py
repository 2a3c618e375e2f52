"""The REST API door: routes, authentication, HTTP errors (the service layer does the work)."""
