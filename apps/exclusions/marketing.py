"""Marketing compliance: who may be contacted, and the export of contactable players.

    reasons = marketing_allowed(players)   # {player_id: None (may be contacted) or a reason}

Every marketing or affiliate list goes through marketing_allowed. It removes, in order:
accounts that are not active (account_self_excluded, account_closed, account_suspended),
players on a time-out or self-exclusion (self_excluded, timed_out: responsible gaming),
players who did not opt in (opted_out), and players a national register refuses
(register_refused) or could not be asked about (register_unavailable, no_national_id):
registers fail closed. The registers asked are those the brand's jurisdiction pack names
(whatever their `at`: a person on a register must never receive marketing, and for
GAMSTOP only N and P allow it): GAMSTOP through its batch API (up to 1000 persons per
request), Spelpaus through its marketing bulk API (up to 10000 items per request).
Only the players the cheap checks left are sent to a register.

marketing_export streams: the brand's players are read in keyset pages, each page checked
in bulk, and the rows written to a temporary file, so 100,000 players never sit in memory.
"""

import csv
import io
import json
import logging
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from apps.core.actors import audit_as
from apps.core.events import publish
from apps.exclusions.events import MarketingExported
from apps.exclusions.exceptions import ExclusionsError, RegisterUnavailable
from apps.exclusions.models import (
    MarketingExport,
    MarketingRemoval,
    Purpose,
    Register,
    RegisterCheck,
    RegisterConfig,
)
from apps.exclusions.selectors import register_config_get, registers_of_brand
from apps.players.masking import MASK, personal_data_visible
from apps.players.models import Player
from apps.security.interface import export_record
from apps.tenants.exceptions import AccessDenied
from apps.tenants.models import Brand
from apps.tenants.permissions import user_can
from apps.tenants.selectors import brands_visible_to

logger = logging.getLogger(__name__)

EXPORT_COLUMNS = ("player_id", "username", "email", "first_name")
# What marketing_allowed reads of a player (callers' querysets may .only() these).
PLAYER_FIELDS = (
    "id",
    "brand_id",
    "username",
    "status",
    "marketing_opt_in",
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "postcode",
    "mobile",
    "national_id",
)
SPELPAUS_BULK_MAX = 10_000


class MarketingExportRefused(ExclusionsError):
    code = "marketing_export_refused"


# --- who may be contacted ------------------------------------------------------------------


def _local_reason(player: Player, restrictions: dict[int, str]) -> str | None:
    if player.status != Player.Status.ACTIVE:
        return f"account_{player.status}"
    if not player.marketing_opt_in:
        return "opted_out"
    return restrictions.get(player.pk) or None


def _registers_of(brand_id: int) -> list[str]:
    return [e["register"] for e in registers_of_brand(brand_id)]


def _config(brand_id: int, register: str) -> RegisterConfig:
    config = register_config_get(brand_id=brand_id, register=register)
    if config is None:
        raise RegisterUnavailable(f"{register}: no active configuration for this brand.")
    return config


def _gamstop_refused(brand_id: int, players: list[Player]) -> dict[int, str]:
    from apps.exclusions.batch import gamstop_ask_many

    try:
        config = _config(brand_id, Register.GAMSTOP)
    except RegisterUnavailable:
        return dict.fromkeys((p.pk for p in players), "register_unavailable")
    out: dict[int, str] = {}
    size = settings.EXCLUSIONS_GAMSTOP_BATCH_SIZE
    for start in range(0, len(players), size):
        group = players[start : start + size]
        try:
            answers = gamstop_ask_many(config, group)
        except RegisterUnavailable as exc:
            logger.warning("exclusions: GAMSTOP marketing check failed for %s players: %s", len(group), exc)
            out.update(dict.fromkeys((p.pk for p in group), "register_unavailable"))
            continue
        for player in group:
            answer = answers.get(player.pk, ("", ""))[0]
            if answer == "Y":
                out[player.pk] = "register_refused"
            elif answer not in ("N", "P"):
                out[player.pk] = "register_unavailable"  # could not be sent, or not answered
    return out


def _spelpaus_refused(brand_id: int, players: list[Player]) -> dict[int, str]:
    from apps.exclusions.clients import spelpaus
    from apps.exclusions.exceptions import RegisterRequestInvalid

    out: dict[int, str] = {}
    askable = []
    for player in players:
        try:
            spelpaus.subject_id_of(player.national_id)
            askable.append(player)
        except RegisterRequestInvalid:
            out[player.pk] = "no_national_id"  # missing, or not a personnummer: cannot be asked
    try:
        config = _config(brand_id, Register.SPELPAUS)
    except RegisterUnavailable:
        out.update(dict.fromkeys((p.pk for p in askable), "register_unavailable"))
        return out
    for start in range(0, len(askable), SPELPAUS_BULK_MAX):
        group = askable[start : start + SPELPAUS_BULK_MAX]
        try:
            allowed = spelpaus.marketing_bulk(config, [(str(p.pk), p.national_id) for p in group])
        except RegisterUnavailable as exc:
            logger.warning("exclusions: Spelpaus marketing check failed for %s players: %s", len(group), exc)
            out.update(dict.fromkeys((p.pk for p in group), "register_unavailable"))
            continue
        for player in group:
            if str(player.pk) not in allowed:
                out[player.pk] = "register_refused"
    return out


REGISTER_CHECKERS = {Register.GAMSTOP: _gamstop_refused, Register.SPELPAUS: _spelpaus_refused}


def _checks_record(brand_id: int, register: str, refused: dict[int, str]) -> None:
    """Every register refusal and error of a marketing check is stored (as the other checks are)."""
    outcome = {"register_refused": RegisterCheck.Outcome.EXCLUDED}
    RegisterCheck.objects.bulk_create(
        [
            RegisterCheck(
                brand_id=brand_id,
                player_id=player_id,
                register=register,
                purpose=Purpose.MARKETING,
                outcome=outcome.get(reason, RegisterCheck.Outcome.ERROR),
                answer="Y" if reason == "register_refused" else "",
                error="" if reason == "register_refused" else reason,
            )
            for player_id, reason in refused.items()
        ]
    )


def marketing_allowed(players) -> dict[int, str | None]:
    """{player id: None if the player may be contacted, else why not} for every player given.

    Bulk: the register questions go in batches. Fails closed: a player a register did not
    answer about is refused (register_unavailable). Stores a RegisterCheck for every
    register refusal or error. Reads only; changes no player.
    """
    players = list(players)
    reasons: dict[int, str | None] = {}
    by_brand: dict[int, list[Player]] = {}
    from apps.responsible_gaming.interface import restrictions_of

    restrictions = restrictions_of(p.pk for p in players)
    for player in players:
        reasons[player.pk] = _local_reason(player, restrictions)
        if reasons[player.pk] is None:
            by_brand.setdefault(player.brand_id, []).append(player)
    for brand_id, candidates in by_brand.items():
        for register in _registers_of(brand_id):
            checker = REGISTER_CHECKERS.get(register)
            still = [p for p in candidates if reasons[p.pk] is None]
            if not still:
                break
            if checker is None:
                # A register this app has no client for yet: nobody can be cleared by it.
                refused = dict.fromkeys((p.pk for p in still), "register_unavailable")
            else:
                refused = checker(brand_id, still)
                _checks_record(brand_id, register, refused)
            reasons.update(refused)
    return reasons


# --- the export ----------------------------------------------------------------------------


@dataclass
class ExportFile:
    export: MarketingExport
    file: io.BufferedIOBase  # at position 0; the caller closes it
    content_type: str
    filename: str


def _csv_safe(value) -> str:
    """Neutralise spreadsheet formulas in player-supplied text (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Writer:
    def __init__(self, fmt: str):
        self.fmt = fmt
        self.raw = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - handed to the caller
        self.text = io.TextIOWrapper(self.raw, encoding="utf-8", newline="")
        self.rows = 0
        if fmt == "csv":
            self.csv = csv.writer(self.text)
            self.csv.writerow(EXPORT_COLUMNS)
        else:
            self.text.write('{"players": [')

    def row(self, values: tuple) -> None:
        if self.fmt == "csv":
            self.csv.writerow([_csv_safe(v) for v in values])
        else:
            self.text.write(
                ("," if self.rows else "") + json.dumps(dict(zip(EXPORT_COLUMNS, values, strict=True)))
            )
        self.rows += 1

    def close(self, summary: dict) -> io.BufferedIOBase:
        if self.fmt == "json":
            self.text.write('], "export": ' + json.dumps(summary) + "}")
        self.text.flush()
        self.text.detach()
        self.raw.seek(0)
        return self.raw


def marketing_export(*, actor, brand: Brand, purpose: str, fmt: str = "csv") -> ExportFile:
    """The brand's contactable players for a campaign (CSV or JSON), and the record of it.

    Needs exclusions.export_marketing on the brand. Email and first name are included only
    for an actor who may also see personal data there (players.view_personal_data); others
    get ids and usernames with the personal fields masked (an affiliate list). Every player
    of the brand is a candidate; each one removed gets a MarketingRemoval with the reason.
    One transaction: the export, its removals and exclusions.marketing_exported commit
    together, or nothing is recorded. Streams (keyset pages of EXCLUSIONS_MARKETING_CHUNK_SIZE).
    """
    if not user_can(actor, "exclusions.export_marketing", brand_id=brand.pk):
        raise AccessDenied("You may not export marketing lists of this brand.")
    purpose = (purpose or "").strip()
    if not purpose:
        raise MarketingExportRefused("A purpose is required (the campaign).", code="purpose_required")
    if len(purpose) > 200:
        raise MarketingExportRefused("The purpose may be at most 200 characters.", code="purpose_too_long")
    if fmt not in ("csv", "json"):
        raise MarketingExportRefused("The format is csv or json.", code="format_invalid")
    visible = personal_data_visible(actor, brand_id=brand.pk)
    size = settings.EXCLUSIONS_MARKETING_CHUNK_SIZE
    writer = _Writer(fmt)
    counts: dict[str, int] = {}
    try:
        with transaction.atomic(), audit_as(actor):
            export = MarketingExport.objects.create(brand=brand, requested_by=actor, purpose=purpose)
            last_id, candidates = 0, 0
            while True:
                page = list(
                    Player.objects.filter(brand=brand, pk__gt=last_id)
                    .order_by("pk")
                    .only(*PLAYER_FIELDS)[:size]
                )
                if not page:
                    break
                last_id, candidates = page[-1].pk, candidates + len(page)
                reasons = marketing_allowed(page)
                removals = []
                for player in page:
                    reason = reasons[player.pk]
                    if reason is None:
                        email, first = (player.email, player.first_name) if visible else (MASK, MASK)
                        writer.row((player.pk, player.username, email, first))
                    else:
                        counts[reason] = counts.get(reason, 0) + 1
                        removals.append(MarketingRemoval(export=export, player_id=player.pk, reason=reason))
                MarketingRemoval.objects.bulk_create(removals)
            export.candidates, export.included = candidates, writer.rows
            export.removed = candidates - writer.rows
            export.save(update_fields=["candidates", "included", "removed"])
            publish(
                MarketingExported(
                    brand_id=brand.pk,
                    export_id=export.pk,
                    purpose=purpose,
                    candidates=export.candidates,
                    included=export.included,
                    removed=export.removed,
                    removed_by_reason=dict(sorted(counts.items())),
                    with_personal_data=visible,
                ),
                actor=actor,
            )
            # The access audit, in the same transaction: the file leaves with the record.
            export_record(
                actor=actor,
                source="exclusions.marketing_export",
                brand_id=brand.pk,
                rows=export.included,
                fields=EXPORT_COLUMNS,
                personal_data=visible,
                object_type="exclusions.marketingexport",
                object_id=export.pk,
                extra={"format": fmt},
            )
    except BaseException:
        writer.raw.close()
        raise
    summary = {
        "id": export.pk,
        "brand": brand.code,
        "purpose": purpose,
        "candidates": export.candidates,
        "included": export.included,
        "removed": export.removed,
        "removed_by_reason": dict(sorted(counts.items())),
        "with_personal_data": visible,
    }
    stamp = export.created_at.strftime("%Y%m%d-%H%M%S")
    return ExportFile(
        export=export,
        file=writer.close(summary),
        content_type="text/csv" if fmt == "csv" else "application/json",
        filename=f"marketing-{brand.code}-{stamp}-{export.pk}.{fmt}",
    )


# --- reads ---------------------------------------------------------------------------------


def marketing_exports_visible_to(user) -> QuerySet[MarketingExport]:
    return MarketingExport.objects.filter(brand__in=brands_visible_to(user))


def marketing_removals_visible_to(user) -> QuerySet[MarketingRemoval]:
    return MarketingRemoval.objects.filter(export__brand__in=brands_visible_to(user))
