"""Writes of the exclusions app: asking a register about a person, and storing the answer.

compliance.check asks the registers its pack names at registration, login and marketing
(through the clients apps.py registers); support agents ask now (check_now). Both end in
register_check, which calls the register outside any transaction, then stores the check
and its events in one short transaction of its own.
"""

import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.compliance.registers import Person
from apps.core.actors import actor_label, audit_as, system_actor
from apps.core.correlation import correlation_id_ensure
from apps.core.events import publish
from apps.exclusions.clients import Answer, gamstop, spelpaus
from apps.exclusions.events import PlayerExcludedByRegister, RegisterChecked
from apps.exclusions.exceptions import (
    CheckNowDenied,
    RegisterConfigDenied,
    RegisterNotConfigured,
    RegisterUnavailable,
)
from apps.exclusions.models import Purpose, Register, RegisterCheck, RegisterConfig
from apps.exclusions.selectors import register_config_get, registers_of_brand
from apps.tenants.models import Brand
from apps.tenants.permissions import user_can

logger = logging.getLogger(__name__)

EXCLUSIONS_ACTOR = system_actor("exclusions")
# Purposes after which a register's "excluded" also stops the account here. A marketing
# check only keeps the person out of the campaign; their next login check decides.
_MARKS_PLAYER = {Purpose.REGISTRATION, Purpose.LOGIN, Purpose.DAILY, Purpose.MANUAL}


def person_of(player) -> Person:
    """What a register is asked about a player."""
    return Person(
        brand_id=player.brand_id,
        first_name=player.first_name,
        last_name=player.last_name,
        date_of_birth=player.date_of_birth,
        email=player.email,
        postcode=player.postcode,
        mobile=player.mobile,
        national_id=player.national_id,
        player_id=player.pk,
    )


def _ask(config: RegisterConfig, person: Person, purpose: str, trace_id: str) -> Answer:
    if config.register == Register.GAMSTOP:
        return gamstop.single_check(config, person, trace_id=trace_id)
    if config.register == Register.SPELPAUS:
        ask = spelpaus.marketing_single if purpose == Purpose.MARKETING else spelpaus.blocking_info
        return ask(config, person.national_id, request_id=uuid.uuid4().hex)
    raise RegisterUnavailable(f"No client for register {config.register!r}.")


def _outcome(answer: Answer) -> str:
    if answer.excluded:
        return RegisterCheck.Outcome.EXCLUDED
    if answer.answer == "P":
        return RegisterCheck.Outcome.LAPSED
    return RegisterCheck.Outcome.ALLOWED


def register_check(
    *,
    register: str,
    person: Person,
    purpose: str,
    brand: Brand | int,
    player=None,
    actor,
    batch_run=None,
) -> RegisterCheck | None:
    """Ask `register` about `person` for `purpose`; store the check; return it.

    Outcome excluded / allowed / lapsed (GAMSTOP P: allowed). On any failure the check is
    stored as an ERROR (failed closed) and RegisterUnavailable is raised: callers refuse.
    A brand without an active configuration of the register fails the same way, unless
    EXCLUSIONS_UNCONFIGURED is "skip" (development only): then nothing is asked or
    stored and None is returned.

    The register is called outside any transaction of ours; the check, its
    exclusions.register_checked event and, on "excluded", the
    exclusions.player_excluded_by_register event are written in one transaction of their
    own, which commits even when the caller then refuses (a login refused by a register
    is recorded). On "excluded" (not for marketing) an active or suspended player is moved
    to self-excluded (players' status service, system actor; their tokens are revoked).
    """
    brand_id = brand if isinstance(brand, int) else brand.pk
    player_id = player.pk if player is not None else person.player_id
    trace_id = correlation_id_ensure()
    config = register_config_get(brand_id=brand_id, register=register)
    started = timezone.now()
    answer, error = None, None
    if config is None:
        if settings.EXCLUSIONS_UNCONFIGURED == "skip":
            logger.warning(
                "exclusions: %s not configured for brand %s; %s check skipped", register, brand_id, purpose
            )
            return None
        logger.error(
            "exclusions: %s not configured for brand %s; %s refused (fail closed)",
            register,
            brand_id,
            purpose,
        )
        error = RegisterNotConfigured(f"The {register} register is not configured for this brand.")
    else:
        try:
            answer = _ask(config, person, purpose, trace_id)
        except RegisterUnavailable as exc:
            logger.warning("exclusions: %s %s check failed closed: %s", register, purpose, exc)
            error = exc
    latency_ms = answer.latency_ms if answer else int((timezone.now() - started).total_seconds() * 1000)
    with transaction.atomic(), audit_as(actor):
        check = RegisterCheck.objects.create(
            brand_id=brand_id,
            player_id=player_id,
            register=register,
            purpose=purpose,
            outcome=_outcome(answer) if answer else RegisterCheck.Outcome.ERROR,
            answer=answer.answer if answer else "",
            reference=answer.reference if answer else "",
            request=answer.request if answer else getattr(error, "request", {}),
            error=str(error)[:500] if error else "",
            latency_ms=latency_ms,
            correlation_id=trace_id,
            actor=actor_label(actor)[:64],
            batch_run=batch_run,
        )
        common = {"check_id": check.pk, "brand_id": brand_id, "register": register, "purpose": purpose}
        publish(RegisterChecked(**common, player_id=player_id, outcome=check.outcome), actor=actor)
        if check.outcome == RegisterCheck.Outcome.EXCLUDED and player_id is not None:
            publish(
                PlayerExcludedByRegister(**common, player_id=player_id, reference=check.reference),
                actor=actor,
            )
    if error is not None:
        error.check = check  # the stored ERROR check, for callers that show it
        raise error
    if check.outcome == RegisterCheck.Outcome.EXCLUDED and player_id is not None and purpose in _MARKS_PLAYER:
        _player_self_exclude(player_id, check)
    return check


def _player_self_exclude(player_id: int, check: RegisterCheck) -> None:
    from apps.players.models import Player
    from apps.players.services import player_status_apply

    player = Player.objects.filter(pk=player_id).first()
    if player is None or player.status not in (Player.Status.ACTIVE, Player.Status.SUSPENDED):
        return
    player_status_apply(
        actor=EXCLUSIONS_ACTOR,
        player=player,
        transition="self_exclude",
        reason=f"Excluded on the {check.get_register_display()} register ({check.purpose} check #{check.pk}, "
        f"reference {check.reference or '-'}).",
    )


def compliance_client(register: str):
    """The client compliance.check calls for `register` (registered in apps.py): True = excluded."""

    def check(person: Person, purpose: str) -> bool:
        player = None
        if person.player_id is not None:
            from apps.players.models import Player

            player = Player.objects.filter(pk=person.player_id).first()
        actor = player if player is not None else system_actor(purpose)
        stored = register_check(
            register=register,
            person=person,
            purpose=purpose,
            brand=person.brand_id,
            player=player,
            actor=actor,
        )
        return stored is not None and stored.outcome == RegisterCheck.Outcome.EXCLUDED

    check.__name__ = f"{register}_check"
    return check


def check_now(*, actor, player) -> list[RegisterCheck]:
    """A staff member asks every register the player's pack names, now (purpose manual).

    Needs exclusions.check_now on the player's brand. Every check is stored with the staff
    member as its actor (the audit trail) and published; a failing register is stored as an
    ERROR and does not stop the others. An "excluded" answer self-excludes the player.
    Refuses (RegisterNotConfigured) a brand whose pack names no register.
    """
    if not user_can(actor, "exclusions.check_now", brand_id=player.brand_id):
        raise CheckNowDenied()
    names = [entry["register"] for entry in registers_of_brand(player.brand_id)]
    names = [name for name in names if name in Register.values]
    if not names:
        raise RegisterNotConfigured("This player's jurisdiction names no register we can ask.")
    person = person_of(player)
    checks = []
    for name in names:
        try:
            stored = register_check(
                register=name,
                person=person,
                purpose=Purpose.MANUAL,
                brand=player.brand_id,
                player=player,
                actor=actor,
            )
        except RegisterUnavailable as exc:
            stored = getattr(exc, "check", None)
        if stored is not None:
            checks.append(stored)
    return checks


CONFIG_FIELDS = ("active", "base_url", "batch_url", "actor_id", "timeout_seconds")


def register_config_save(
    *, actor, brand: Brand, register: str, api_key: str | None = None, **fields
) -> RegisterConfig:
    """Create or change a brand's configuration of a register (one per brand and register).

    Needs exclusions.add_registerconfig (new) or exclusions.change_registerconfig on the
    brand. `api_key` None keeps the stored key; a value replaces it (never shown back;
    the audit log masks it). Resets the register's circuit breaker for the brand.
    """
    from apps.exclusions.clients import breakers_reset_for

    unknown = set(fields) - set(CONFIG_FIELDS)
    if unknown:
        raise ValueError(f"register_config_save: unknown fields {sorted(unknown)}")
    if register not in Register.values:
        raise RegisterNotConfigured(f"Unknown register {register!r}.")
    existing = RegisterConfig.objects.filter(brand=brand, register=register).first()
    perm = "exclusions.change_registerconfig" if existing else "exclusions.add_registerconfig"
    if not user_can(actor, perm, brand_id=brand.pk):
        raise RegisterConfigDenied()
    with transaction.atomic(), audit_as(actor):
        config = (
            RegisterConfig.objects.select_for_update().filter(pk=existing.pk).first() if existing else None
        ) or RegisterConfig(brand=brand, register=register)
        for name, value in fields.items():
            setattr(config, name, value)
        if api_key is not None:
            config.api_key = api_key.strip()
        config.updated_at = timezone.now()
        config.full_clean(validate_unique=False, validate_constraints=False)
        config.save()
    breakers_reset_for(register, brand.pk)
    return config
