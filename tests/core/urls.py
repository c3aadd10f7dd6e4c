"""The project's routes plus two test-only views: one publishes an event, one fails."""

from dataclasses import dataclass
from typing import ClassVar

from django.db import transaction
from django.http import JsonResponse
from django.urls import path

from apps.core.actors import system_actor
from apps.core.correlation import correlation_id_get
from apps.core.events import DomainEvent, publish
from pam.urls import handler404, handler500
from pam.urls import urlpatterns as project_urlpatterns

REQUEST_EVENT_TYPE = "test.correlation_button_pressed"


@dataclass(frozen=True)
class ButtonPressed(DomainEvent):
    event_type: ClassVar[str] = REQUEST_EVENT_TYPE
    button: str


def press_button(request):
    """Publishes one event in its own transaction, as a service called by a view would."""
    with transaction.atomic():
        event = publish(ButtonPressed(button="red"), actor=system_actor("test"))
    return JsonResponse({"event_id": event.pk, "correlation_id": correlation_id_get()})


def explode(request):
    raise RuntimeError("a bug, not a client error")


urlpatterns = [
    path("test-core/press", press_button),
    path("api/test-core/explode", explode),
    *project_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
