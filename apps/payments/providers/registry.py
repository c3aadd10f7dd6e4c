"""Payment provider adapters: the only code that knows a provider's format.

An adapter is a module (a package under apps/payments/providers/) that translates its
provider's protocol into payment services (apps.payments.services) and back. It registers
a ProviderAdapter here so that the core can name it and ask it the few things it needs;
the core never imports an adapter, and an adapter never touches the wallet directly.
"""

from dataclasses import dataclass, field
from importlib import import_module

from django.conf import settings


@dataclass(frozen=True)
class ProviderAdapter:
    code: str  # Payment.provider of the payments it makes
    name: str
    # Who moves the money: "provider" (the provider calls us back: PaymentIQ) or "staff"
    # (a person records it: manual bank transfer). Decides which admin actions apply.
    settled_by: str = "provider"
    methods: tuple[str, ...] = field(default=())


_adapters: dict[str, ProviderAdapter] = {}


def provider_register(adapter: ProviderAdapter) -> ProviderAdapter:
    _adapters[adapter.code] = adapter
    return adapter


def provider_get(code: str) -> ProviderAdapter | None:
    return _adapters.get(code)


def providers_all() -> list[ProviderAdapter]:
    return sorted(_adapters.values(), key=lambda adapter: adapter.code)


def providers_load() -> None:
    """Import each configured adapter package; each registers itself on import."""
    for dotted in settings.PAYMENT_PROVIDERS:
        import_module(dotted)
