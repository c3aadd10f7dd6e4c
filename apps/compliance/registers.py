"""National self-exclusion register clients (GAMSTOP, Spelpaus, OASIS, CRUKS, ...).

A pack names the registers of its jurisdiction and when to ask them
(exclusion_registers[].at: registration, login, marketing, daily). The exclusions app
registers one client per register name:

    @register_client("gamstop")
    def gamstop_check(person: Person, purpose: str) -> bool: ...   # True: excluded

compliance.check asks the clients its pack names for the action's purpose. A client that
fails (raises) fails closed: the action is refused with "register_unavailable". A register
without a client yet is logged and skipped (its client arrives with the exclusions app).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Person:
    brand_id: int
    first_name: str
    last_name: str
    date_of_birth: date
    email: str
    postcode: str = ""
    mobile: str = ""
    national_id: str = ""
    player_id: int | None = None


RegisterClient = Callable[[Person, str], bool]
_clients: dict[str, RegisterClient] = {}


def register_client(name: str) -> Callable[[RegisterClient], RegisterClient]:
    def add(client: RegisterClient) -> RegisterClient:
        _clients[name] = client
        return client

    return add


def unregister_client(name: str) -> None:
    _clients.pop(name, None)


def client_get(name: str) -> RegisterClient | None:
    return _clients.get(name)
