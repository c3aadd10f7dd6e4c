"""What other apps may ask the exclusions app (plain values).

    from apps.exclusions.interface import marketing_allowed
    reasons = marketing_allowed(players)   # {player_id: None (may be contacted) or the reason}

Every marketing or affiliate export goes through marketing_allowed (see marketing.py).
"""

from apps.exclusions.marketing import marketing_allowed

__all__ = ["marketing_allowed"]
