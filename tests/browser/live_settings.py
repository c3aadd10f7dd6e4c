"""Settings of the ASGI server the live browser tests start (tests/browser/asgi_server.py):
the project's, serving static files from the apps and static/ directly (as the test
process's own live server does), since nothing ran collectstatic."""

from pam.settings import *  # noqa: F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
