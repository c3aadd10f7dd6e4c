"""Personal data on screen and in exports: shown only with players.view_personal_data."""

from apps.players.models import PERSONAL_DATA_FIELDS
from apps.tenants.permissions import user_can

MASK = "•••"


def personal_data_visible(user, *, brand_id: int) -> bool:
    return user_can(user, "players.view_personal_data", brand_id=brand_id)


def masked(value):
    """The mask for a value: nothing stays nothing, anything else is hidden whole."""
    if value in (None, ""):
        return value
    return MASK


def player_personal_data(player, *, visible: bool) -> dict:
    """The player's personal data fields, masked unless `visible`."""
    data = {name: getattr(player, name) for name in PERSONAL_DATA_FIELDS}
    if visible:
        return data
    return {name: masked(value) for name, value in data.items()}
