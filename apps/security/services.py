"""Writes of the IP lists. Every change is checked against the actor's permission, audited
(django-auditlog, apps.py) and announced to every process (ipfilter.ruleset_changed, now
and again after commit so a reload racing the commit cannot keep the old rules).

Who may do what: a brand entry needs security.<add|change|delete>_iprule and the brand
among the actor's brands (tenants.permissions.user_can); a global or provider entry needs
the model permission and security.manage_global_ip_rules (platform staff).
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import PermissionDenied
from apps.security import ipfilter
from apps.security.exceptions import InvalidIpRule
from apps.security.models import IpRule
from apps.tenants.models import Brand
from apps.tenants.permissions import user_can

GLOBAL_PERMISSION = "security.manage_global_ip_rules"
INTEGRATION_SCOPES = frozenset(
    s for s in IpRule.Scope.values if s not in (IpRule.Scope.GLOBAL, IpRule.Scope.BRAND)
)


def ip_rule_may_manage(actor, *, action: str, scope: str, brand_id: int | None) -> bool:
    """May `actor` `action` ("add", "change", "delete") an entry of this scope and brand?"""
    perm = f"security.{action}_iprule"
    if scope == IpRule.Scope.BRAND:
        return brand_id is not None and user_can(actor, perm, brand_id=brand_id)
    return bool(
        actor
        and actor.is_authenticated
        and actor.is_active
        and actor.has_perm(perm)
        and actor.has_perm(GLOBAL_PERMISSION)
    )


def _check(actor, action: str, scope: str, brand_id: int | None) -> None:
    if not ip_rule_may_manage(actor, action=action, scope=scope, brand_id=brand_id):
        what = "this brand's IP rules" if scope == IpRule.Scope.BRAND else "global and provider IP rules"
        raise PermissionDenied(f"You may not {action} {what}.")


def ip_rule_validate(
    *, cidr: str, kind: str, scope: str, brand: Brand | None, reason: str, expires_at
) -> str:
    """The normalised CIDR; InvalidIpRule naming what is wrong otherwise."""
    try:
        network = ipfilter.network_parse(cidr)
    except ipfilter.InvalidNetwork as exc:
        raise InvalidIpRule(str(exc), code="invalid_cidr", field="cidr") from exc
    if kind not in IpRule.Kind.values:
        raise InvalidIpRule(f"Unknown kind {kind!r}.", field="kind")
    if scope not in IpRule.Scope.values:
        raise InvalidIpRule(f"Unknown scope {scope!r}.", field="scope")
    if scope == IpRule.Scope.BRAND and brand is None:
        raise InvalidIpRule("A brand entry names its brand.", field="brand")
    if scope != IpRule.Scope.BRAND and brand is not None:
        raise InvalidIpRule("Only brand entries name a brand.", field="brand")
    if scope in (IpRule.Scope.GLOBAL, IpRule.Scope.BRAND) and kind != IpRule.Kind.BLOCK:
        raise InvalidIpRule(
            "Global and brand entries block; allow entries are for provider endpoints.", field="kind"
        )
    if kind == IpRule.Kind.BLOCK and network.prefixlen == 0:
        raise InvalidIpRule(f"{network.with_prefixlen} would block every address.", field="cidr")
    if not (reason or "").strip():
        raise InvalidIpRule("Give the reason for this entry.", field="reason")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidIpRule("The expiry is in the past.", field="expires_at")
    return network.with_prefixlen


def _announce() -> None:
    ipfilter.ruleset_changed()
    transaction.on_commit(ipfilter.ruleset_changed)


def ip_rule_create(
    *,
    actor,
    cidr: str,
    kind: str,
    scope: str,
    reason: str,
    brand: Brand | None = None,
    expires_at: datetime | None = None,
) -> IpRule:
    """Add an entry (normalised CIDR). InvalidIpRule on bad input, PermissionDenied without
    the permission; nothing is written then. An identical entry is refused (invalid_ip_rule)."""
    normalised = ip_rule_validate(
        cidr=cidr, kind=kind, scope=scope, brand=brand, reason=reason, expires_at=expires_at
    )
    _check(actor, "add", scope, brand.pk if brand else None)
    with transaction.atomic():
        if IpRule.objects.filter(cidr=normalised, kind=kind, scope=scope, brand=brand).exists():
            raise InvalidIpRule(f"{normalised} is already on this list.", code="duplicate", field="cidr")
        rule = IpRule.objects.create(
            cidr=normalised,
            kind=kind,
            scope=scope,
            brand=brand,
            reason=reason.strip(),
            expires_at=expires_at,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        _announce()
    return rule


def ip_rule_update(*, actor, rule: IpRule, reason: str, expires_at: datetime | None) -> IpRule:
    """Change an entry's reason and expiry (its network, kind and scope are fixed: delete
    and add instead)."""
    _check(actor, "change", rule.scope, rule.brand_id)
    if not (reason or "").strip():
        raise InvalidIpRule("Give the reason for this entry.", field="reason")
    with transaction.atomic():
        rule.reason = reason.strip()
        rule.expires_at = expires_at
        rule.save(update_fields=["reason", "expires_at"])
        _announce()
    return rule


def ip_rule_delete(*, actor, rule: IpRule) -> None:
    _check(actor, "delete", rule.scope, rule.brand_id)
    with transaction.atomic():
        rule.delete()
        _announce()
