"""Action-level permission checks: what a person may do, and where.

What: a named permission held through the person's role (a Group), e.g.
`players.change_player_status`. Where: the brand the object belongs to must be visible to
them (selectors.brands_visible_to). Both must hold.
"""

from apps.tenants.selectors import brands_visible_to


def user_can(user, perm: str, *, brand_id: int) -> bool:
    """May `user` do `perm` on data of brand `brand_id`?"""
    if not (user and user.is_authenticated and user.is_active and user.has_perm(perm)):
        return False
    return brands_visible_to(user).filter(pk=brand_id).exists()
