"""Brand overrides of a pack, which may only tighten it, and the effective rules of a brand.

A brand takes its jurisdiction's pack. A brand admin may override the values listed in
TIGHTENING, each only in the direction that protects players more (a lower stake cap, a
longer cooling-off, more banned payment methods). Overrides are versioned
(BrandRulesVersion); the newest version of a brand is in force.
"""

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from apps.compliance.exceptions import OverrideRefused
from apps.compliance.packs import Pack, value_at

# Overridable rule -> which way is tighter. {product}, {period}, {currency} match one key.
TIGHTENING: dict[str, str] = {
    "minimum_age": "higher",
    "kyc.before_deposit": "true",
    "kyc.before_play": "true",
    "kyc.before_withdrawal": "true",
    "limits.increase_cooling_off_hours": "higher",
    "limits.increase_not_before_period_end": "true",
    "limits.required_deposit_periods": "superset",
    "limits.default_deposit_limits.{period}": "lower_amount",
    "stake_caps.{product}.max": "lower_amount",
    "payment_methods.banned": "superset",
    "reality_check.required": "true",
    "reality_check.default_interval_minutes": "lower",
    "self_exclusion.relax_cooling_off_hours": "higher",
    "bonus.first_play_only": "true",
    "bonus.max_wagering_multiplier": "lower",
    "aml.review_at.{currency}": "lower_amount",
}
_PLACEHOLDERS = {
    "{product}": "(casino|live|sports|bingo)",
    "{period}": "(day|week|month)",
    "{currency}": "([A-Z]{3})",
}


def _pattern(rule: str) -> re.Pattern:
    regex = re.escape(rule)
    for placeholder, group in _PLACEHOLDERS.items():
        regex = regex.replace(re.escape(placeholder), group)
    return re.compile(f"^{regex}$")


_PATTERNS = [(_pattern(rule), rule, direction) for rule, direction in TIGHTENING.items()]


def _direction(path: str) -> str | None:
    return next((direction for pattern, _, direction in _PATTERNS if pattern.match(path)), None)


_MISSING = object()


def _pack_value(pack: Pack, path: str):
    try:
        return value_at(pack.data, path)
    except (KeyError, TypeError):
        return _MISSING


def _amount(path: str, value) -> Decimal:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,8})?", value):
        raise OverrideRefused(
            f'{path}: give an amount as a decimal string, e.g. "5.00".', code="invalid_value"
        )
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already refused it
        raise OverrideRefused(f"{path}: not an amount.", code="invalid_value") from exc


def override_check(pack: Pack, path: str, value) -> None:
    """Refuse an override that is unknown, malformed, or looser than the pack."""
    direction = _direction(path) if isinstance(path, str) else None
    if direction is None:
        raise OverrideRefused(f"{path}: this rule cannot be overridden per brand.", code="unknown_rule")
    current = _pack_value(pack, path)
    if path.startswith("stake_caps.") and current is _MISSING:
        raise OverrideRefused(f"{path}: the pack has no such stake cap.", code="unknown_rule")

    def looser(message: str):
        return OverrideRefused(
            f"{path}: {message} ({pack.source} says {current!r}); a brand may only tighten.", code="loosening"
        )

    if direction in ("higher", "lower"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise OverrideRefused(f"{path}: give a whole number.", code="invalid_value")
        if current is None or current is _MISSING:
            return
        if direction == "higher" and value < current:
            raise looser(f"{value} is lower")
        if direction == "lower" and value > current:
            raise looser(f"{value} is higher")
    elif direction == "true":
        if not isinstance(value, bool):
            raise OverrideRefused(f"{path}: give true or false.", code="invalid_value")
        if current is True and value is False:
            raise looser("false would switch the rule off")
    elif direction == "superset":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise OverrideRefused(f"{path}: give a list of names.", code="invalid_value")
        missing = sorted(set(current or []) - set(value))
        if missing:
            raise looser(f"{', '.join(missing)} cannot be removed")
    elif direction == "lower_amount":
        amount = _amount(path, value)
        if current is not _MISSING and current is not None and amount > Decimal(current):
            raise looser(f"{value} is higher")


@dataclass
class EffectiveRules:
    """A brand's rules: its pack with the brand's overrides applied, and where each came from."""

    jurisdiction: str
    data: dict
    pack_source: str
    version: int | None = None
    overridden: dict[str, str] = field(default_factory=dict)  # path -> "brand override v3"

    def get(self, path: str, default=None):
        try:
            return value_at(self.data, path)
        except (KeyError, TypeError):
            return default

    def source_of(self, path: str) -> str:
        return self.overridden.get(path, self.pack_source)

    def table(self) -> list[tuple[str, object, str]]:
        """(path, value, source) of every leaf rule, for the compliance officer's view."""
        rows: list[tuple[str, object, str]] = []

        def walk(prefix: str, node) -> None:
            if isinstance(node, dict) and node:
                for key, child in node.items():
                    walk(f"{prefix}.{key}" if prefix else key, child)
            else:
                rows.append((prefix, node, self.source_of(prefix)))

        walk("", self.data)
        return rows


def _set(data: dict, path: str, value) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def rules_apply(pack: Pack, overrides: dict, *, version: int | None) -> EffectiveRules:
    data = copy.deepcopy(pack.data)
    rules = EffectiveRules(jurisdiction=pack.code, data=data, pack_source=pack.source, version=version)
    for path, value in sorted((overrides or {}).items()):
        # Stored overrides were checked when saved; a pack tightened since may make an old
        # override looser than the pack: then the pack's value stands.
        try:
            override_check(pack, path, value)
        except OverrideRefused:
            continue
        _set(data, path, copy.deepcopy(value))
        rules.overridden[path] = f"brand override v{version}"
    return rules
