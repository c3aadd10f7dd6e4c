"""What other apps may ask responsible gaming (plain values; compliance.check is the main caller)."""

from django.db.models import Q, Sum
from django.utils import timezone

from apps.responsible_gaming.models import Exclusion, GuardState, Limit, RunningTotal
from apps.responsible_gaming.periods import window_of


def restriction_of(player_id: int, *, now=None) -> str:
    """ "timed_out", "self_excluded" or "" (no time-out or self-exclusion in force)."""
    now = now or timezone.now()
    state = (
        GuardState.objects.filter(player_id=player_id).values_list("blocked_code", "blocked_until").first()
    )
    if not state or not state[0]:
        return ""
    code, until = state
    return code if until is None or until > now else ""


def restrictions_of(player_ids, *, now=None) -> dict[int, str]:
    """restriction_of for many players in one query: {player id: "timed_out" | "self_excluded"}
    for those with one in force (the others are absent)."""
    now = now or timezone.now()
    rows = GuardState.objects.filter(player_id__in=list(player_ids)).exclude(blocked_code="")
    return {
        player_id: code
        for player_id, code, until in rows.values_list("player_id", "blocked_code", "blocked_until")
        if until is None or until > now
    }


def deposit_limit_periods(player_id: int) -> set[str]:
    return set(Limit.objects.filter(player_id=player_id, kind="deposit").values_list("period", flat=True))


def limit_headroom(player_id: int, kind: str, *, currency: str, now=None) -> list[tuple[str, int, int]]:
    """(period, limit, what is left now) of each of the player's limits of this kind."""
    now = now or timezone.now()
    state = GuardState.objects.filter(player_id=player_id).values_list("limits", flat=True).first() or {}
    out = []
    for period, limit in sorted((state.get(kind) or {}).items()):
        window = window_of(period, now, window=state.get("span", "calendar"), tz=state.get("tz", "UTC"))
        used = (
            RunningTotal.objects.filter(
                player_id=player_id,
                kind=kind,
                period=period,
                currency=currency,
                period_start__gte=window.window_start,
                period_start__lt=window.end,
            ).aggregate(total=Sum("total"))["total"]
            or 0
        )
        out.append((period, limit, limit - used))
    return out


def person_excluded(
    *, operator_id: int, brand_id: int, email: str, date_of_birth, national_id: str = ""
) -> bool:
    """Is this person self-excluded from this brand (a brand exclusion here, or one of every
    brand of the operator)? For registration, before any account exists."""
    now = timezone.now()
    person = Q(player__email__iexact=email, player__date_of_birth=date_of_birth)
    if national_id:
        person |= Q(player__national_id=national_id)
    scope = Q(brand_id=brand_id) | Q(scope=Exclusion.Scope.OPERATOR, brand__operator_id=operator_id)
    return (
        Exclusion.objects.filter(kind=Exclusion.Kind.SELF_EXCLUSION)
        .filter(person, scope)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .exists()
    )
