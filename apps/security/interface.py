"""What other apps call: the brand blocklist, for doors that know the request's brand."""

from apps.security.exceptions import IpBlocked
from apps.security.ipfilter import brand_blocked, client_ip

__all__ = ["IpBlocked", "brand_blocked", "brand_ip_check", "client_ip"]


def brand_ip_check(request, brand_id: int) -> None:
    """IpBlocked (403, code ip_blocked, the API's JSON error) when the request's address is
    on brand `brand_id`'s blocklist."""
    if brand_blocked(request, brand_id):
        raise IpBlocked()
