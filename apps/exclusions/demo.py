"""Demo register configurations: the GB and SE demo brands ask the fake registers that
`manage.py fake_registers` runs on fixed local ports (`make run` starts it)."""

from apps.exclusions.models import Register, RegisterConfig

GAMSTOP_PORT = 8701
SPELPAUS_PORT = 8702
GAMSTOP_KEY = "demo-gamstop-key"  # noqa: S105 - the local fake's key, not a credential
SPELPAUS_KEY = "demo-spelpaus-key"  # noqa: S105 - the local fake's key, not a credential
SPELPAUS_ACTOR = "demo-actor"

DEMO_CONFIGS = {
    "northstar-uk": {
        "register": Register.GAMSTOP,
        "base_url": f"http://127.0.0.1:{GAMSTOP_PORT}",
        "batch_url": f"http://127.0.0.1:{GAMSTOP_PORT}/batch",
        "api_key": GAMSTOP_KEY,
    },
    "nordicplay-se": {
        "register": Register.SPELPAUS,
        "base_url": f"http://127.0.0.1:{SPELPAUS_PORT}",
        "batch_url": f"http://127.0.0.1:{SPELPAUS_PORT}/marketing",
        "actor_id": SPELPAUS_ACTOR,
        "api_key": SPELPAUS_KEY,
    },
}


def seed(context: dict) -> None:
    for code, values in DEMO_CONFIGS.items():
        brand = context["brands"].get(code)
        if brand is None:
            continue
        values = dict(values)
        RegisterConfig.objects.get_or_create(
            brand=brand, register=values.pop("register"), defaults={**values, "timeout_seconds": 3.0}
        )
    context["logins"].append(
        f"Self-exclusion registers: the demo brands ask fake GAMSTOP (port {GAMSTOP_PORT}) and Spelpaus "
        f"(port {SPELPAUS_PORT}); `make run` starts them (manage.py fake_registers lists who is excluded)."
    )
