"""Reads of the PaymentIQ integration and of what its calls name (players, payments)."""

from django.db.models import QuerySet

from apps.payments.models import Payment
from apps.payments.providers.paymentiq import CODE
from apps.payments.providers.paymentiq.models import PaymentIQIntegration
from apps.players.models import Player
from apps.tenants.selectors import brands_visible_to


def paymentiq_integrations_visible_to(user) -> QuerySet[PaymentIQIntegration]:
    """Integrations of the brands this staff user may see."""
    return PaymentIQIntegration.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def integration_by_username(username: str) -> PaymentIQIntegration | None:
    if not username:
        return None
    return PaymentIQIntegration.objects.select_related("brand").filter(basic_username=username).first()


def integration_by_token_sha256(digest: str) -> PaymentIQIntegration | None:
    if not digest:
        return None
    return PaymentIQIntegration.objects.select_related("brand").filter(bearer_token_sha256=digest).first()


def player_of_brand(*, brand_id: int, player_id: int) -> Player | None:
    """The player, if they belong to this brand: another brand's player looks like a missing one."""
    return Player.objects.select_related("brand", "currency").filter(pk=player_id, brand_id=brand_id).first()


def payment_of_call(*, brand_id: int, player_id: int, tx_id: str) -> Payment | None:
    """The PaymentIQ payment this txId started, if it is this player's, in this brand."""
    return (
        Payment.objects.select_related("currency")
        .filter(provider=CODE, provider_reference=tx_id, brand_id=brand_id, player_id=player_id)
        .first()
    )
