"""A few hundred demo players with realistic, deterministic data (seeded random)."""

import random
from datetime import date, timedelta

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test.utils import override_settings
from stdnum import luhn

from apps.players.models import Player
from apps.players.services import player_profile_update, player_register, player_status_change

DEMO_PLAYER_PASSWORD = "player-pass-2026"  # noqa: S105 - public demo login, printed by make run
PLAYERS_PER_BRAND = 100


class DemoPasswordHasher(PBKDF2PasswordHasher):
    """Fewer PBKDF2 rounds so that seeding hundreds of players takes seconds, not minutes.

    Same algorithm name: the normal hasher verifies these hashes (rounds are stored in
    the hash) and they are upgraded to the full count when a player logs in.
    """

    iterations = 20_000


LOCALES = {
    "GB": {
        "first": [
            "Oliver",
            "Amelia",
            "George",
            "Isla",
            "Harry",
            "Ava",
            "Jack",
            "Mia",
            "Charlie",
            "Grace",
            "Thomas",
            "Sophie",
            "James",
            "Emily",
            "William",
            "Freya",
        ],
        "last": [
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Williams",
            "Wilson",
            "Johnson",
            "Davies",
            "Evans",
            "Thomas",
            "Roberts",
            "Walker",
            "Wright",
            "Hughes",
        ],
        "cities": [
            ("London", "SW1A 2AA"),
            ("Manchester", "M1 1AE"),
            ("Leeds", "LS1 4DY"),
            ("Bristol", "BS1 5TR"),
            ("Glasgow", "G1 1XQ"),
            ("Cardiff", "CF10 1EP"),
        ],
        "streets": ["High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue"],
        "mobile": lambda r: f"+447400{r.randint(100000, 999999)}",
    },
    "SE": {
        "first": [
            "Erik",
            "Anna",
            "Lars",
            "Maria",
            "Karl",
            "Elsa",
            "Johan",
            "Astrid",
            "Nils",
            "Ingrid",
            "Oskar",
            "Linnea",
            "Axel",
            "Maja",
        ],
        "last": [
            "Andersson",
            "Johansson",
            "Karlsson",
            "Nilsson",
            "Eriksson",
            "Larsson",
            "Olsson",
            "Persson",
            "Svensson",
            "Gustafsson",
        ],
        "cities": [
            ("Stockholm", "111 22"),
            ("Göteborg", "411 05"),
            ("Malmö", "211 20"),
            ("Uppsala", "753 20"),
            ("Västerås", "722 15"),
        ],
        "streets": ["Storgatan", "Drottninggatan", "Kungsgatan", "Skolgatan", "Sveavägen"],
        "mobile": lambda r: f"+4670{r.randint(1000000, 9999999)}",
    },
    "MT": {
        "first": ["Luke", "Maria", "Matthew", "Julia", "Daniel", "Emma", "Jake", "Leah", "Nathan", "Sarah"],
        "last": ["Borg", "Camilleri", "Vella", "Farrugia", "Zammit", "Galea", "Micallef", "Grech", "Attard"],
        "cities": [
            ("Valletta", "VLT 1117"),
            ("Sliema", "SLM 1549"),
            ("Birkirkara", "BKR 4012"),
            ("Mosta", "MST 1010"),
            ("Qormi", "QRM 2456"),
        ],
        "streets": ["Triq il-Kbira", "Triq San Pawl", "Triq ir-Repubblika", "Triq il-Merkanti"],
        "mobile": lambda r: f"+35679{r.randint(100000, 999999)}",
    },
}


def _personnummer(r: random.Random, born: date) -> str:
    serial = f"{born:%y%m%d}{r.randint(200, 999)}"
    return f"{born:%Y%m%d}{serial[6:]}{luhn.calc_check_digit(serial)}"


def _player_data(r: random.Random, brand, index: int) -> dict:
    locale = LOCALES[brand.jurisdiction]
    first, last = r.choice(locale["first"]), r.choice(locale["last"])
    city, postcode = r.choice(locale["cities"])
    born = date(1950, 1, 1) + timedelta(days=r.randint(0, 365 * 55))
    data = {
        "username": f"{first}.{last}{index}".lower().replace("ö", "o").replace("ä", "a").replace("å", "a"),
        "email": f"{first}.{last}.{index}@example.com".lower(),
        "first_name": first,
        "last_name": last,
        "date_of_birth": born,
        "country": brand.jurisdiction,
        "address_line": f"{r.randint(1, 180)} {r.choice(locale['streets'])}",
        "city": city,
        "postcode": postcode,
        "mobile": locale["mobile"](r),
        "marketing_opt_in": r.random() < 0.6,
    }
    if brand.jurisdiction == "SE":
        data["national_id"] = _personnummer(r, born)
    return data


def seed(context: dict) -> None:
    compliance = context["staff"]["compliance"]
    admin = context["admin"]
    created = 0
    with override_settings(PASSWORD_HASHERS=["apps.players.demo.DemoPasswordHasher"]):
        for brand in context["brands"].values():
            r = random.Random(f"demo-{brand.code}")
            for index in range(1, PLAYERS_PER_BRAND + 1):
                # Draw everything first, so a re-run draws the same players in the same order.
                data = _player_data(r, brand, index)
                kyc = r.choices(["verified", "pending", "not_started", "rejected"], [70, 15, 10, 5])[0]
                roll = r.random()
                if Player.objects.filter(brand=brand, username=data["username"]).exists():
                    continue
                player = player_register(brand=brand, password=DEMO_PLAYER_PASSWORD, **data)
                created += 1
                if kyc != "not_started":
                    player_profile_update(actor=admin, player=player, changes={"kyc_status": kyc})
                actor = compliance if brand.code in ("northstar-uk", "northstar-mt") else admin
                if roll < 0.04:
                    player_status_change(
                        actor=actor,
                        player=player,
                        transition="suspend",
                        reason="Source of funds check outstanding",
                    )
                elif roll < 0.07:
                    player_status_change(
                        actor=actor,
                        player=player,
                        transition="self_exclude",
                        reason="Player asked to self-exclude on the phone",
                    )
                elif roll < 0.09:
                    player_status_change(
                        actor=actor,
                        player=player,
                        transition="close",
                        reason="Player asked to close the account",
                    )
    example = Player.objects.filter(brand__code="northstar-uk").order_by("id").first()
    context["logins"].append(
        f"Demo players: {Player.objects.count()} ({created} new); player API password for all: "
        f"{DEMO_PLAYER_PASSWORD}, e.g. brand 'northstar-uk' login '{example.username if example else '-'}'"
    )
