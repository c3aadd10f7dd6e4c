"""The jurisdictions a brand can be licensed in, and the few facts registration needs now.

The full rule packs (limits, cooling-off, registers, stake caps) arrive with the
compliance app; until then this is the single place that names a jurisdiction.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    name: str
    regulator: str
    minimum_age: int
    # The national id scheme a player must give at registration, if any
    # (a python-stdnum module path).
    national_id_scheme: str | None = None


JURISDICTIONS: dict[str, Jurisdiction] = {
    j.code: j
    for j in (
        Jurisdiction("GB", "Great Britain", "UK Gambling Commission", 18),
        Jurisdiction("SE", "Sweden", "Spelinspektionen", 18, "stdnum.se.personnummer"),
        Jurisdiction("MT", "Malta", "Malta Gaming Authority", 18),
        Jurisdiction("DE", "Germany", "GGL", 18),
        Jurisdiction("NL", "Netherlands", "Kansspelautoriteit", 18),
    )
}

JURISDICTION_CHOICES = [(j.code, f"{j.name} ({j.regulator})") for j in JURISDICTIONS.values()]


def jurisdiction_get(code: str) -> Jurisdiction:
    return JURISDICTIONS[code]
