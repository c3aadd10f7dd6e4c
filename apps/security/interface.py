"""What other apps call: the brand blocklist, for doors that know the request's brand, and
the access audit's records (apps/security/audit.py) for the doors and services that log a
player in or out, show personal data or export it."""

from apps.security.audit import export_record, login_record, logout_record, personal_data_read_record
from apps.security.exceptions import IpBlocked
from apps.security.ipfilter import brand_blocked, client_ip

__all__ = [
    "IpBlocked",
    "brand_blocked",
    "brand_ip_check",
    "client_ip",
    "export_record",
    "login_record",
    "logout_record",
    "personal_data_read_record",
]


def brand_ip_check(request, brand_id: int) -> None:
    """IpBlocked (403, code ip_blocked, the API's JSON error) when the request's address is
    on brand `brand_id`'s blocklist."""
    if brand_blocked(request, brand_id):
        raise IpBlocked()
