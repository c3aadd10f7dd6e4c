"""WSGI entry point (HTTP only; use pam.asgi for HTTP and websockets)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pam.settings")
application = get_wsgi_application()
