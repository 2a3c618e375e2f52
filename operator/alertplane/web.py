"""The HTTP server's application: the REST API and the web console in one FastAPI app.

The two doors do not import each other (both call service/); this module, like serve.py
above it, is where they meet: the API's app with the console mounted beside it at
/console, sharing one service context.
"""

from __future__ import annotations

import functools

from . import console
from .api.app import create_app as create_api

# api/app.create_app (its arguments) with the console at /console (and / → /console/).
create_app = functools.partial(create_api, mounts=(console.install,))
