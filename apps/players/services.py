"""Writes of the players domain: registration, login, profile and status changes."""

import csv
import importlib
import io
from datetime import date, timedelta

import phonenumbers
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from stdnum.exceptions import ValidationError as StdnumValidationError

from apps.core.actors import audit_as
from apps.core.events import publish
from apps.players.events import (
    PlayerLoggedIn,
    PlayerLoginRefused,
    PlayerProfileChanged,
    PlayerRegistered,
    PlayersExported,
    PlayerStatusChanged,
)
from apps.players.exceptions import (
    AlreadyRegistered,
    InvalidCredentials,
    LoginRefused,
    RegistrationRefused,
    StatusChangeRefused,
)
from apps.players.masking import personal_data_visible, player_personal_data
from apps.players.models import PERSONAL_DATA_FIELDS, Player, PlayerToken
from apps.security.interface import export_record, login_record, logout_record
from apps.tenants.exceptions import AccessDenied
from apps.tenants.models import Brand
from apps.tenants.permissions import user_can
from apps.tenants.selectors import brand_get_by_code

# Fields a player may change about themselves; identity fields are KYC-locked.
PLAYER_EDITABLE_FIELDS = ("address_line", "city", "postcode", "mobile", "marketing_opt_in")
# Fields support staff may correct (with players.change_player); status has its own door.
STAFF_EDITABLE_FIELDS = (
    *PLAYER_EDITABLE_FIELDS,
    "email",
    "first_name",
    "last_name",
    "date_of_birth",
    "country",
    "national_id",
    "kyc_status",
)

STATUS_TRANSITIONS = {
    "suspend": Player.suspend,
    "reactivate": Player.reactivate,
    "close": Player.close,
    "self_exclude": Player.self_exclude,
}

# Compared against when a username is unknown, so both paths cost one password hash.
_DUMMY_PASSWORD_HASH = make_password("timing-equaliser-not-a-password")


def _age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _mobile_clean(mobile: str, country: str) -> str:
    try:
        number = phonenumbers.parse(mobile, country or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError({"mobile": ["Not a phone number."]}) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError({"mobile": ["Not a valid phone number for the country."]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _se_personnummer_canonical(number: str) -> str:
    """YYYYMMDD-NNNN for a valid, compact personnummer.

    The 10-digit form (YYMMDD-NNNN, with + from the year the person turns 100) and the
    12-digit form name the same person; storing one spelling is what lets the unique
    constraint refuse a second account for the same person.
    """
    from stdnum.se import personnummer

    if len(number) == 13:
        return f"{number[:8]}-{number[-4:]}"
    century = personnummer.get_birth_date(number).year // 100
    return f"{century}{number[:6]}-{number[-4:]}"


# One stored spelling per national id, for the schemes whose compact form is not unique.
_NATIONAL_ID_CANONICAL = {"stdnum.se.personnummer": _se_personnummer_canonical}


def _national_id_clean(brand: Brand, national_id: str) -> str:
    from apps.compliance.selectors import rules_for_brand

    scheme = rules_for_brand(brand.pk).get("national_id_scheme")
    if scheme is None:
        return national_id.strip()
    if not national_id:
        raise ValidationError({"national_id": ["Required in this jurisdiction."]})
    module = importlib.import_module(scheme)
    try:
        number = module.compact(module.validate(national_id))
    except StdnumValidationError as exc:
        raise ValidationError({"national_id": [f"Not a valid national id: {exc.message}"]}) from exc
    canonical = _NATIONAL_ID_CANONICAL.get(scheme)
    return canonical(number) if canonical else number


def _profile_validate(player: Player) -> None:
    """Field validation of the model, as a ValidationError naming each bad field."""
    player.full_clean(
        exclude=["password", "brand", "currency"], validate_unique=False, validate_constraints=False
    )


def player_register(
    *,
    brand: Brand,
    username: str,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    country: str,
    address_line: str,
    city: str,
    postcode: str,
    mobile: str,
    national_id: str = "",
    currency_code: str | None = None,
    marketing_opt_in: bool = False,
    actor=None,
) -> Player:
    """Register a player on a brand.

    Refuses an inactive brand, an under-age person, a currency the brand does not offer,
    a duplicate username, email or national id on the brand (case-insensitive), and
    invalid fields. Publishes PlayerRegistered. `actor` defaults to the new player.

    The compliance check runs outside any transaction of ours, so the self-exclusion
    register checks it stores stay stored when the registration is refused.
    """
    if not brand.active:
        raise RegistrationRefused("This brand does not accept registrations.", code="brand_inactive")
    from apps import compliance

    decision = compliance.check(
        "register",
        None,
        brand=brand,
        date_of_birth=date_of_birth,
        email=email.strip(),
        national_id=national_id.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        postcode=postcode.strip(),
        mobile=mobile,
    )
    if not decision.allowed:
        raise RegistrationRefused(decision.message, code=decision.code)
    currency_code = currency_code or brand.default_currency_id
    if not brand.currencies.filter(code=currency_code).exists():
        raise ValidationError({"currency": [f"{currency_code} is not offered by this brand."]})

    player = Player(
        brand=brand,
        username=username.strip(),
        email=email.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        country=country,
        address_line=address_line.strip(),
        city=city.strip(),
        postcode=postcode.strip().upper(),
        mobile=_mobile_clean(mobile, country),
        national_id=_national_id_clean(brand, national_id),
        currency_id=currency_code,
        marketing_opt_in=marketing_opt_in,
    )
    _profile_validate(player)
    try:
        # With the player as `user`, so the similarity validator sees username, names, email.
        validate_password(password, user=player)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    player.set_password(password)

    duplicate = Player.objects.filter(brand=brand).filter(
        Q(username__iexact=player.username)
        | Q(email__iexact=player.email)
        | (Q(national_id=player.national_id) if player.national_id else Q(pk__in=[]))
    )
    if duplicate.exists():
        raise AlreadyRegistered()
    with transaction.atomic(), audit_as(actor or player):
        try:
            with transaction.atomic():
                player.save()
        except IntegrityError as exc:
            # A concurrent registration won the race for the same username/email/id.
            raise AlreadyRegistered() from exc
        publish(
            PlayerRegistered(
                player_id=player.pk,
                brand_id=brand.pk,
                country=str(player.country),
                currency=currency_code,
            ),
            actor=actor or player,
        )
    return player


def player_login(
    *, brand_code: str, login: str, password: str, ip: str | None = None
) -> tuple[Player, str, object]:
    """Check a player's credentials; returns (player, token, expires_at).

    The same error answers an unknown brand, an unknown login and a wrong password, and
    both take one password hash, so nothing tells which it was. A refused login is still
    recorded (an event) before the error is raised.
    """
    brand = brand_get_by_code(brand_code)
    player = None
    if brand is not None:
        player = (
            Player.objects.filter(brand=brand)
            .filter(Q(username__iexact=login) | Q(email__iexact=login))
            .first()
        )
    if player is None:
        Player(password=_DUMMY_PASSWORD_HASH).check_password(password)
        # Recorded without what was typed (an e-mail address is personal data); outside any
        # transaction, so the refusal below cannot take the record with it.
        login_record(
            succeeded=False,
            ip=ip,
            brand_id=brand.pk if brand is not None else None,
            reason="unknown_login" if brand is not None else "unknown_brand",
            door="player_api",
        )
        raise InvalidCredentials()

    refusal = None
    if not player.check_password(password):
        refusal = ("bad_password", InvalidCredentials())
    elif not brand.active:
        refusal = ("brand_inactive", LoginRefused("This brand is closed.", code="brand_inactive"))
    elif player.status != Player.Status.ACTIVE:
        messages = {
            Player.Status.SUSPENDED: "Your account is suspended. Please contact support.",
            Player.Status.SELF_EXCLUDED: "You are self-excluded and cannot log in.",
            Player.Status.CLOSED: "Your account is closed.",
        }
        refusal = (
            f"account_{player.status}",
            LoginRefused(messages[player.status], code=f"account_{player.status}"),
        )
    if refusal is None:
        from apps import compliance

        decision = compliance.check("login", player)
        if not decision.allowed:
            refusal = (decision.code, LoginRefused(decision.message, code=decision.code))
    if refusal is not None:
        reason, error = refusal
        with transaction.atomic(), audit_as(player):
            publish(
                PlayerLoginRefused(player_id=player.pk, brand_id=brand.pk, reason=reason, ip=ip),
                actor=player,
            )
            login_record(
                succeeded=False, actor=player, ip=ip, brand_id=brand.pk, reason=reason, door="player_api"
            )
        raise error

    key = PlayerToken.new_key()
    expires_at = timezone.now() + timedelta(seconds=settings.PLAYER_TOKEN_TTL_SECONDS)
    with transaction.atomic(), audit_as(player):
        PlayerToken.objects.create(player=player, key_hash=PlayerToken.hash_key(key), expires_at=expires_at)
        Player.objects.filter(pk=player.pk).update(last_login_at=timezone.now())
        publish(PlayerLoggedIn(player_id=player.pk, brand_id=brand.pk, ip=ip), actor=player)
        login_record(succeeded=True, actor=player, ip=ip, brand_id=brand.pk, door="player_api")
    return player, key, expires_at


def player_logout(*, key: str, ip: str | None = None) -> None:
    """Revoke the token (idempotent; the access audit records the first revocation)."""
    with transaction.atomic():
        token = (
            PlayerToken.objects.select_related("player")
            .filter(key_hash=PlayerToken.hash_key(key), revoked_at__isnull=True)
            .first()
        )
        if token is None:
            return
        if PlayerToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            logout_record(actor=token.player, ip=ip, brand_id=token.player.brand_id, door="player_api")


def player_tokens_revoke(*, player_ids, now=None) -> int:
    """End every open API session of these players (a register's failed re-check, ...);
    idempotent. How many were open."""
    return PlayerToken.objects.filter(player_id__in=list(player_ids), revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )


def _profile_update(*, actor, player: Player, changes: dict, allowed: tuple[str, ...]) -> list[str]:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    with transaction.atomic(), audit_as(actor):
        locked = Player.objects.select_for_update().select_related("brand").get(pk=player.pk)
        if "mobile" in changes:
            changes["mobile"] = _mobile_clean(
                changes["mobile"], str(changes.get("country") or locked.country)
            )
        if "national_id" in changes:
            changes["national_id"] = _national_id_clean(locked.brand, changes["national_id"])
        if "postcode" in changes:
            changes["postcode"] = changes["postcode"].strip().upper()
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        if not changed:
            return []
        for name in changed:
            setattr(locked, name, changes[name])
        _profile_validate(locked)
        try:
            with transaction.atomic():
                locked.save(update_fields=changed)
        except IntegrityError as exc:
            raise AlreadyRegistered() from exc
        publish(
            PlayerProfileChanged(player_id=locked.pk, brand_id=locked.brand_id, fields=sorted(changed)),
            actor=actor,
        )
    for name in changed:
        setattr(player, name, changes[name])
    return sorted(changed)


def player_profile_update_by_player(*, player: Player, changes: dict) -> list[str]:
    """A player changes their own contact details. Returns the fields that changed."""
    return _profile_update(actor=player, player=player, changes=dict(changes), allowed=PLAYER_EDITABLE_FIELDS)


def player_profile_update(*, actor, player: Player, changes: dict) -> list[str]:
    """Staff correct a player's profile (players.change_player on the player's brand)."""
    if not user_can(actor, "players.change_player", brand_id=player.brand_id):
        raise AccessDenied("You may not change this player.")
    return _profile_update(actor=actor, player=player, changes=dict(changes), allowed=STAFF_EDITABLE_FIELDS)


def player_status_change(*, actor, player: Player, transition: str, reason: str) -> Player:
    """Suspend, reactivate, close or self-exclude a player, with a reason.

    Needs players.change_player_status on the player's brand. Takes the player's row
    lock, so two staff acting at once cannot both move the status. Publishes
    PlayerStatusChanged. Illegal moves (e.g. reactivating a closed account) are refused.
    """
    if not user_can(actor, "players.change_player_status", brand_id=player.brand_id):
        raise AccessDenied("You may not change this player's status.")
    return player_status_apply(actor=actor, player=player, transition=transition, reason=reason)


def player_status_apply(*, actor, player: Player, transition: str, reason: str) -> Player:
    """The status transition itself, for services that checked their own permission
    (player_status_change for staff; responsible gaming for a player closing their account).

    Takes the player's row lock, so two changes at once cannot both move the status.
    Publishes PlayerStatusChanged. Illegal moves are refused.
    """
    if transition not in STATUS_TRANSITIONS:
        raise StatusChangeRefused(f"Unknown status change {transition!r}.", code="unknown_transition")
    reason = (reason or "").strip()
    if not reason:
        raise StatusChangeRefused("A reason is required.", code="reason_required")
    with transaction.atomic(), audit_as(actor):
        locked = Player.objects.select_for_update().get(pk=player.pk)
        old = locked.status
        try:
            getattr(locked, transition)()
        except TransitionNotAllowed as exc:
            raise StatusChangeRefused(
                f"A {old.replace('_', '-')} player cannot be moved by {transition.replace('_', ' ')}.",
                code="illegal_transition",
            ) from exc
        locked.status_reason = reason[:500]
        locked.save(update_fields=["status", "status_reason"])
        # Whatever stops a player also ends their API sessions.
        if locked.status != Player.Status.ACTIVE:
            PlayerToken.objects.filter(player=locked, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        publish(
            PlayerStatusChanged(
                player_id=locked.pk,
                brand_id=locked.brand_id,
                old_status=old,
                new_status=locked.status,
                reason=locked.status_reason,
            ),
            actor=actor,
        )
    player.status, player.status_reason = locked.status, locked.status_reason
    return locked


EXPORT_COLUMNS = (
    "id",
    "brand",
    "username",
    "status",
    "kyc_status",
    "country",
    "registered_at",
    *PERSONAL_DATA_FIELDS,
)


def _csv_safe(value) -> str:
    """Neutralise spreadsheet formulas in player-supplied text (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def players_export_csv(*, actor, players) -> str:
    """CSV of the given players (already scoped by the caller's selector).

    Needs players.export_players on every brand in the export; personal data is masked
    per brand unless the actor may view it there. Publishes PlayersExported per brand.
    """
    rows = list(players.select_related("brand"))
    brand_ids = {p.brand_id for p in rows}
    for brand_id in brand_ids:
        if not user_can(actor, "players.export_players", brand_id=brand_id):
            raise AccessDenied("You may not export players of this brand.")
    visible = {brand_id: personal_data_visible(actor, brand_id=brand_id) for brand_id in brand_ids}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for p in rows:
        personal = player_personal_data(p, visible=visible[p.brand_id])
        row = [p.pk, p.brand.code, p.username, p.status, p.kyc_status, p.country, p.registered_at.isoformat()]
        writer.writerow([_csv_safe(v) for v in row + [personal[name] for name in PERSONAL_DATA_FIELDS]])
    with transaction.atomic(), audit_as(actor):
        for brand_id in sorted(brand_ids):
            count = sum(1 for p in rows if p.brand_id == brand_id)
            publish(
                PlayersExported(brand_id=brand_id, count=count, with_personal_data=visible[brand_id]),
                actor=actor,
            )
            export_record(
                actor=actor,
                source="players.players_export_csv",
                brand_id=brand_id,
                rows=count,
                fields=EXPORT_COLUMNS,
                personal_data=visible[brand_id],
                extra={"player_ids": [p.pk for p in rows if p.brand_id == brand_id][:1000]},
            )
    return out.getvalue()


# --- GDPR erasure ------------------------------------------------------------------------------

ERASED_DATE_OF_BIRTH = date(1900, 1, 1)


def player_erased_values(player: Player) -> dict:
    """What an erased player's personal fields (and username) become: nothing that points
    to the person, unique where the field must be (e-mail, username), valid where the
    column cannot be empty (date of birth)."""
    return {
        "username": f"erased-{player.pk}",
        "email": f"erased-{player.pk}@erased.invalid",
        "first_name": "Erased",
        "last_name": "Erased",
        "date_of_birth": ERASED_DATE_OF_BIRTH,
        "address_line": "",
        "city": "",
        "postcode": "",
        "mobile": "",
        "national_id": "",
    }


def player_personal_data_erase(*, actor, player: Player, keep=(), reason: str) -> list[str]:
    """Replace the player's personal data with anonymised values (GDPR erasure); the fields
    that changed.

    For services that checked their own permission (timeline's erasure checks
    timeline.process_erasure). `keep` names personal fields the law requires be kept (a
    self-excluded person's identifiers, see timeline.erasure); everything else in
    PERSONAL_DATA_FIELDS, and the username, is replaced. Also: the password can no longer
    be used, marketing consent is withdrawn, API sessions end, and an active or suspended
    account is closed (player_status_apply: event and audit). Takes the player's row lock;
    audited with the values masked (players' auditlog registration). Idempotent: a second
    call changes nothing and publishes nothing. Publishes PlayerProfileChanged with the
    field names only.
    """
    from django.contrib.auth.hashers import is_password_usable

    unknown = set(keep) - set(PERSONAL_DATA_FIELDS)
    if unknown:
        raise ValueError(f"not personal data fields: {sorted(unknown)}")
    with transaction.atomic(), audit_as(actor):
        locked = Player.objects.select_for_update().get(pk=player.pk)
        values = {name: value for name, value in player_erased_values(locked).items() if name not in keep}
        values["marketing_opt_in"] = False
        changed = [name for name, value in values.items() if getattr(locked, name) != value]
        if is_password_usable(locked.password):
            locked.password = make_password(None)
            changed.append("password")
        for name in changed:
            if name != "password":
                setattr(locked, name, values[name])
        if changed:
            locked.save(update_fields=changed)
            shown = sorted(name for name in changed if name != "password")
            if shown:
                publish(
                    PlayerProfileChanged(player_id=locked.pk, brand_id=locked.brand_id, fields=shown),
                    actor=actor,
                )
        PlayerToken.objects.filter(player=locked, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if locked.status in (Player.Status.ACTIVE, Player.Status.SUSPENDED):
            player_status_apply(actor=actor, player=locked, transition="close", reason=reason)
    for name in (*PERSONAL_DATA_FIELDS, "username", "marketing_opt_in", "password", "status"):
        setattr(player, name, getattr(locked, name))
    player.status_reason = locked.status_reason
    return sorted(changed)
