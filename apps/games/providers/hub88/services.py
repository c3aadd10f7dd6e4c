"""Writes of the Hub88 integration: its keys and whether it is on."""

from django.db import transaction

from apps.core.actors import audit_as
from apps.games.exceptions import IntegrationRefused
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.models import Hub88Integration


def hub88_integration_configure(
    *,
    brand,
    actor,
    hub88_public_key: str | None = None,
    operator_private_key: str | None = None,
    generate_operator_key: bool = False,
    active: bool | None = None,
) -> Hub88Integration:
    """Create or change the brand's integration; None leaves a setting as it is.

    Keys are checked (RSA, at least 2048 bits) before anything is saved; Hub88's public
    key is stored in canonical PEM. `generate_operator_key` makes a new operator key pair
    (its public half is what Hub88 needs: hub88_operator_public_key). An integration can
    only be active with both keys. Audited as `actor`; the private key is masked there.
    """
    if generate_operator_key and operator_private_key is not None:
        raise IntegrationRefused("Give an operator key or generate one, not both.", code="key_conflict")
    try:
        if hub88_public_key is not None:
            hub88_public_key = signing.public_key_normalise(hub88_public_key)
        if operator_private_key is not None:
            operator_private_key = operator_private_key.strip() + "\n"
            signing.private_key_check(operator_private_key)
    except signing.InvalidKey as exc:
        raise IntegrationRefused(str(exc), code="invalid_key") from exc
    if generate_operator_key:
        operator_private_key = signing.generate_private_key_pem()
    with transaction.atomic(), audit_as(actor):
        integration = Hub88Integration.objects.select_for_update().filter(brand=brand).first()
        if integration is None:
            integration = Hub88Integration(brand=brand)
        if hub88_public_key is not None:
            integration.hub88_public_key = hub88_public_key
        if operator_private_key is not None:
            integration.operator_private_key = operator_private_key
        if active is not None:
            integration.active = active
        if integration.active and not (integration.hub88_public_key and integration.operator_private_key):
            raise IntegrationRefused(
                "An active integration needs Hub88's public key and an operator key.", code="keys_missing"
            )
        integration.save()
    return integration


def hub88_operator_public_key(integration: Hub88Integration) -> str:
    """The operator's public key (PEM) to give to Hub88; empty when there is no operator key."""
    if not integration.operator_private_key:
        return ""
    return signing.public_key_pem_from_private(integration.operator_private_key)
