"""Compliance: jurisdiction packs, brand overrides, and the one question every app asks.

from apps import compliance
decision = compliance.check("deposit", player, amount=5000, currency="GBP", payment_method="card")
if not decision.allowed: ...   # decision.code, decision.rule, decision.message
"""


def check(action: str, player, **context):
    """Allowed or refused, with a stable code and the rule that decided (interface.check)."""
    from apps.compliance.interface import check as _check

    return _check(action, player, **context)
