"""compliance.check: one question for every door — may this player do this, now?

    decision = check("bet", player, amount=500, currency="GBP", provider="hub88", game_ref="...")

Answers a Decision: allowed or not, a stable reason `code`, the `rule` that decided
("pack gb.yaml: kyc.before_play", "brand override v2: stake_caps.casino.max",
"responsible_gaming: deposit limit per day", ...) and, for payments, whether the amount
goes to manual review (AML). It only reads; the wallet guard enforces the money limits
again inside the wallet's transaction, where they are exact under concurrency.

Actions and their context:
- register   (player=None) brand, date_of_birth, email, national_id, first_name, last_name, postcode, mobile
- login
- deposit    amount, currency, payment_method
- bet        amount, currency, provider, game_ref (or product), session_started_at
- withdraw   amount, currency
- bonus_grant  wagering_multiplier
- marketing_contact
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from apps.compliance import registers
from apps.compliance.exceptions import ComplianceRefused
from apps.compliance.packs import pack_get
from apps.compliance.rules import EffectiveRules
from apps.compliance.selectors import rules_for_brand

logger = logging.getLogger(__name__)

ACTIONS = ("register", "login", "deposit", "bet", "withdraw", "bonus_grant", "marketing_contact")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = "ok"
    rule: str = ""
    message: str = ""
    review: bool = False  # allowed, but to be reviewed by a person (AML thresholds)

    def raise_if_refused(self) -> None:
        if not self.allowed:
            raise ComplianceRefused(self.message, code=self.code, rule=self.rule)


ALLOWED = Decision(True)


class _Refused(Exception):
    def __init__(self, decision: Decision):
        self.decision = decision


def _refuse(code: str, message: str, rule: str) -> None:
    raise _Refused(Decision(False, code=code, rule=rule, message=message))


def _rule(rules: EffectiveRules, path: str) -> str:
    return f"{rules.source_of(path)}: {path}"


def check(action: str, player, **context) -> Decision:
    if action not in ACTIONS:
        raise ValueError(f"compliance.check: unknown action {action!r} (one of {', '.join(ACTIONS)})")
    try:
        if action == "register":
            return _register(context)
        rules = rules_for_brand(player.brand_id)
        return _CHECKS[action](player, rules, context)
    except _Refused as refused:
        return refused.decision


# --- shared checks -----------------------------------------------------------------------


def _account_usable(player) -> None:
    if player.status == "closed":
        _refuse("account_closed", "The account is closed.", "players.status")
    if player.status == "suspended":
        _refuse("account_suspended", "The account is suspended.", "players.status")
    if player.status == "self_excluded":
        _refuse("self_excluded", "The player is self-excluded.", "players.status")


def _not_restricted(player) -> None:
    from apps.responsible_gaming.interface import restriction_of

    code = restriction_of(player.pk)
    if code == "self_excluded":
        _refuse(code, "The player is self-excluded.", "responsible_gaming.exclusion")
    if code == "timed_out":
        _refuse(code, "The player is on a time-out.", "responsible_gaming.exclusion")


def _kyc(player, rules: EffectiveRules, path: str) -> None:
    if rules.get(path) and player.kyc_status != "verified":
        _refuse("kyc_required", "Identity verification is required first.", _rule(rules, path))


def _registers(rules: EffectiveRules, purpose: str, person: registers.Person) -> None:
    for entry in rules.get("exclusion_registers") or []:
        if purpose not in entry["at"]:
            continue
        name = entry["register"]
        client = registers.client_get(name)
        if client is None:
            logger.info("compliance: no client for register %s; %s check skipped", name, purpose)
            continue
        rule = f"{rules.pack_source}: exclusion_registers.{name}"
        try:
            excluded = client(person, purpose)
        except Exception:  # noqa: BLE001 - registers fail closed, whatever went wrong
            logger.exception("compliance: register %s failed (%s)", name, purpose)
            _refuse("register_unavailable", f"The {name} register cannot be checked now.", rule)
        if excluded:
            _refuse("register_excluded", f"The person is excluded on the {name} register.", rule)


def _person_of(player) -> registers.Person:
    return registers.Person(
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


def _required_limits(player, rules: EffectiveRules, stage: str) -> None:
    """The pack's required deposit limits must be set before `stage` (deposit or play)."""
    from apps.responsible_gaming.interface import deposit_limit_periods

    required = set(rules.get("limits.required_deposit_periods") or [])
    if not required:
        return
    before = rules.get("limits.required_before") or "first_deposit"
    stages = {"registration": {"deposit", "play"}, "first_deposit": {"deposit", "play"}, "play": {"play"}}
    if stage not in stages[before]:
        return
    missing = required - deposit_limit_periods(player.pk)
    if missing:
        _refuse(
            "deposit_limit_required",
            f"Set a deposit limit per {', '.join(sorted(missing))} first.",
            _rule(rules, "limits.required_deposit_periods"),
        )


def _headroom(player, kind: str, amount, currency: str) -> None:
    from apps.responsible_gaming.interface import limit_headroom

    if not isinstance(amount, int) or amount <= 0:
        return
    for period, _limit, left in limit_headroom(player.pk, kind, currency=currency):
        if amount > left:
            _refuse(
                f"{kind}_limit",
                f"This would exceed the {kind} limit per {period} ({max(left, 0)} left).",
                f"responsible_gaming.limit.{kind}.{period}",
            )


def _aml_review(rules: EffectiveRules, amount, currency: str) -> Decision:
    threshold = (rules.get("aml.review_at") or {}).get(currency)
    path = f"aml.review_at.{currency}"
    if threshold is None:
        # No threshold in this currency: a person looks (fail safe), unless nothing is moved.
        return Decision(True, rule=f"{rules.pack_source}: aml.review_at", review=bool(amount))
    from apps.responsible_gaming.guard import _exponent

    if isinstance(amount, int) and amount >= int(Decimal(threshold) * 10 ** _exponent(currency)):
        return Decision(True, rule=_rule(rules, path), review=True)
    return ALLOWED


# --- the actions ----------------------------------------------------------------------------


def _age(born, today) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _register(context) -> Decision:
    from apps.responsible_gaming.interface import person_excluded

    brand = context["brand"]
    if pack_get(brand.jurisdiction) is None:
        _refuse("unknown_jurisdiction", "This brand's jurisdiction has no rules.", "compliance.packs")
    rules = rules_for_brand(brand.pk)
    minimum = rules.get("minimum_age")
    born = context["date_of_birth"]
    if _age(born, timezone.localdate()) < minimum:
        _refuse("underage", f"Players must be at least {minimum} years old.", _rule(rules, "minimum_age"))
    if person_excluded(
        operator_id=brand.operator_id,
        brand_id=brand.pk,
        email=context.get("email", ""),
        date_of_birth=born,
        national_id=context.get("national_id", ""),
    ):
        _refuse("self_excluded", "This person is self-excluded.", "responsible_gaming.exclusion")
    _registers(
        rules,
        "registration",
        registers.Person(
            brand_id=brand.pk,
            first_name=context.get("first_name", ""),
            last_name=context.get("last_name", ""),
            date_of_birth=born,
            email=context.get("email", ""),
            postcode=context.get("postcode", ""),
            mobile=context.get("mobile", ""),
            national_id=context.get("national_id", ""),
        ),
    )
    return ALLOWED


def _login(player, rules, context) -> Decision:
    _account_usable(player)
    _not_restricted(player)
    _registers(rules, "login", _person_of(player))
    return ALLOWED


def _deposit(player, rules, context) -> Decision:
    _account_usable(player)
    _not_restricted(player)
    _kyc(player, rules, "kyc.before_deposit")
    method = context.get("payment_method")
    if method and method in (rules.get("payment_methods.banned") or []):
        _refuse(
            "payment_method_banned", f"{method} cannot be used here.", _rule(rules, "payment_methods.banned")
        )
    _required_limits(player, rules, "deposit")
    currency = context.get("currency") or player.currency_id
    _headroom(player, "deposit", context.get("amount"), currency)
    return _aml_review(rules, context.get("amount"), currency)


def _bet(player, rules, context) -> Decision:
    from apps.games.selectors import game_product_get
    from apps.responsible_gaming.guard import _exponent, stake_cap_for

    _account_usable(player)
    _not_restricted(player)
    _kyc(player, rules, "kyc.before_play")
    _required_limits(player, rules, "play")
    amount, currency = context.get("amount"), context.get("currency") or player.currency_id
    product = context.get("product") or game_product_get(
        provider=context.get("provider", ""), code=context.get("game_ref", "")
    )
    cap = stake_cap_for(rules, product, player.date_of_birth, timezone.now())
    if cap is not None and isinstance(amount, int):
        cap_currency, maximum, path = cap
        if cap_currency != currency or amount > int(maximum * 10 ** _exponent(cap_currency)):
            _refuse(
                "stake_cap",
                f"The maximum stake on this game is {maximum} {cap_currency}.",
                _rule(rules, path),
            )
    _headroom(player, "wager", amount, currency)
    _headroom(player, "loss", amount, currency)
    _session_limit(player, context.get("session_started_at"))
    return ALLOWED


def _session_limit(player, started_at) -> None:
    from apps.responsible_gaming.models import Limit

    if started_at is None:
        return
    minutes = Limit.objects.filter(player=player, kind="session").values_list("amount", flat=True).first()
    if minutes is not None and (timezone.now() - started_at).total_seconds() > minutes * 60:
        _refuse(
            "session_limit", "The session time limit has been reached.", "responsible_gaming.limit.session"
        )


def _withdraw(player, rules, context) -> Decision:
    # Self-excluded, timed-out and closed accounts may always take their money out.
    _kyc(player, rules, "kyc.before_withdrawal")
    return _aml_review(rules, context.get("amount"), context.get("currency") or player.currency_id)


def _bonus_grant(player, rules, context) -> Decision:
    from apps.wallet.selectors import player_has_played

    _account_usable(player)
    _not_restricted(player)
    if rules.get("bonus.first_play_only") and player_has_played(player_id=player.pk):
        _refuse(
            "bonus_not_first_play",
            "A bonus is only offered at first play.",
            _rule(rules, "bonus.first_play_only"),
        )
    cap, multiplier = rules.get("bonus.max_wagering_multiplier"), context.get("wagering_multiplier")
    if cap is not None and isinstance(multiplier, int | float | Decimal) and multiplier > cap:
        _refuse(
            "bonus_wagering_cap",
            f"The wagering requirement may be at most {cap}x.",
            _rule(rules, "bonus.max_wagering_multiplier"),
        )
    return ALLOWED


def _marketing_contact(player, rules, context) -> Decision:
    if player.status != "active":
        _refuse(f"account_{player.status}", "Only active accounts may be contacted.", "players.status")
    _not_restricted(player)
    if not player.marketing_opt_in:
        _refuse("marketing_opt_out", "The player has not opted in to marketing.", "players.marketing_opt_in")
    _registers(rules, "marketing", _person_of(player))
    return ALLOWED


_CHECKS = {
    "login": _login,
    "deposit": _deposit,
    "bet": _bet,
    "withdraw": _withdraw,
    "bonus_grant": _bonus_grant,
    "marketing_contact": _marketing_contact,
}


def brand_timezone(brand_id: int) -> str:
    """The IANA time zone of the brand's jurisdiction (its pack's `timezone`)."""
    return rules_for_brand(brand_id).get("timezone")
