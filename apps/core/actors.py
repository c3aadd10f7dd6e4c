"""Who did it: every service takes `actor=` so events and audit rows always say who.

An actor is a staff user, a player, or a named non-human actor (a scheduled job, a
payment provider, a game aggregator). Events store the actor as a short label.
"""

import contextlib
from dataclasses import dataclass

from auditlog.context import auditlog_value, set_actor
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

SYSTEM_USERNAME = "system"


@dataclass(frozen=True)
class Actor:
    """A non-human actor: kind is "system" or "provider"."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def system_actor(name: str) -> Actor:
    return Actor("system", name)


def provider_actor(name: str) -> Actor:
    return Actor("provider", name)


def actor_label(actor) -> str:
    """The label stored on events: staff:ID, player:ID, system:NAME or provider:NAME."""
    if isinstance(actor, Actor):
        return str(actor)
    if isinstance(actor, AbstractBaseUser):
        return f"staff:{actor.pk}"
    as_actor_label = getattr(actor, "actor_label", None)
    if callable(as_actor_label):
        return as_actor_label()
    raise TypeError(f"Not an actor: {actor!r}")


def system_user():
    """The inactive staff user that audit rows name for background work."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"is_active": False, "first_name": "System", "last_name": "(jobs)"},
    )
    return user


@contextlib.contextmanager
def audit_as(actor):
    """Attribute audit rows written inside the block to this actor.

    Staff users are named as themselves; everyone else (jobs, providers, players acting
    through the API) is recorded under the system user, with the actor label kept on
    the events the services publish.
    """
    user = actor if isinstance(actor, AbstractBaseUser) else system_user()
    # auditlog's context manager does not restore an enclosing context (an eager task run
    # inside a staff request); put the request's back so its later writes keep their actor.
    enclosing = auditlog_value.get(None)
    # The request's client address (apps/security/audit.AuditContextMiddleware) stays on
    # the rows written inside the block.
    remote_addr = enclosing.get("remote_addr") if enclosing else None
    try:
        with set_actor(user, remote_addr=remote_addr):
            yield
    finally:
        if enclosing is not None:
            auditlog_value.set(enclosing)
