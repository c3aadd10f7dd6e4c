"""Demo Hub88 games and a Hub88 integration per demo brand (idempotent).

Each brand gets a generated operator key pair and, standing in for Hub88's, the public
half of a key pair whose private half is thrown away: the admin pages are complete, and
`manage.py hub88_keys --brand CODE --hub88-public-key FILE` puts a real key in.
"""

from apps.core.actors import system_actor
from apps.games.models import Game
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.models import Hub88Integration
from apps.games.providers.hub88.services import hub88_integration_configure

GAMES = [
    # code, name, product
    ("demo_fruit_fiesta", "Fruit Fiesta", Game.Product.CASINO),
    ("demo_viking_gold", "Viking Gold", Game.Product.CASINO),
    ("demo_live_roulette", "Live Roulette", Game.Product.LIVE),
    ("demo_live_blackjack", "Live Blackjack", Game.Product.LIVE),
    ("demo_bingo_90", "Bingo 90", Game.Product.BINGO),
]


def seed(context: dict) -> None:
    for code, name, product in GAMES:
        Game.objects.get_or_create(provider="hub88", code=code, defaults={"name": name, "product": product})
    stand_in = None
    made = []
    for brand in context["brands"].values():
        if Hub88Integration.objects.filter(brand=brand).exists():
            continue
        if stand_in is None:  # one stand-in for all brands: key generation is the slow part
            stand_in = signing.public_key_pem_from_private(signing.generate_private_key_pem())
        hub88_integration_configure(
            brand=brand,
            actor=system_actor("seed_demo"),
            hub88_public_key=stand_in,
            generate_operator_key=True,
            active=True,
        )
        made.append(brand.code)
    context.setdefault("logins", []).append(
        f"Hub88: {len(GAMES)} demo games; wallet API at http://127.0.0.1:8000/integrations/hub88/ "
        f"({len(made)} new integrations; set Hub88's real key with manage.py hub88_keys)"
    )
