"""Windowed aggregates of a player's facts, two ways that must agree exactly.

- `aggregates_fetch` (live): per event, every aggregate any candidate rule reads computed
  together over the player's facts grouped once; a batch's events in one statement
  (`aggregates_fetch_many`).
- `FactHistory` (backtest): the player's facts in memory, in time order, read with bisect.

Both read the window (t - window, t] of the player's history up to and including the
event, in (time, event id) order: a fact of the same instant but a later event is not
yet history. Both compute sums in exact decimals and finish through `_finish`, so avg
and median divide the same way: the backtest test compares them on the same events.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from django.db import connection
from django.db.models import Q
from sortedcontainers import SortedList

from apps.core import hotpath
from apps.rules.catalogue import FACT_KINDS, Fact
from apps.rules.dsl import AggregateRef

NET_LOSS_SIGNS = {"bet": 1, "win": -1, "rollback": -1, "win_rollback": 1}
ZERO = Decimal(0)


def _finish(function: str, total: Decimal, count: int, low, high) -> Decimal | None:
    """The aggregate's value from its raw parts (sum, count, and min/max or the two
    middle values for the median)."""
    if function in ("sum", "net_loss"):
        return total
    if function in ("count", "night_count"):
        return Decimal(count)
    if count == 0:
        return None
    if function == "avg":
        return total / count
    if function == "median":
        return (low + high) / 2
    return low if function == "min" else high


# The event's own columns in the batch statement: e.player, e.at, e.event (see `_statement`).
_UP_TO = "(occurred_at < e.at OR (occurred_at = e.at AND event_id <= e.event))"


@dataclass(frozen=True)
class _Statement:
    """The aggregates statement of a set of aggregates: its SQL (the same text for every
    batch asking for that set, so PostgreSQL prepares it once) and the aggregates in
    column order. Its parameters are three arrays: the events' players, instants and ids."""

    sql: str
    refs: tuple[AggregateRef, ...]

    @staticmethod
    def params(requests: list[tuple]) -> list[list]:
        """The arrays of (player id, at, event id, ...) requests."""
        return [[r[0] for r in requests], [r[1] for r in requests], [r[2] for r in requests]]

    def values(self, row) -> dict[AggregateRef, Decimal | None]:
        values = {}
        for i, ref in enumerate(self.refs):
            total, count, low, high = row[4 * i : 4 * i + 4]
            values[ref] = _finish(ref.function, Decimal(total), int(count), low, high)
        return values


def _since(seconds: int) -> str:
    """A window's start: a column of `w`, worked out once per event (see `_statement`)."""
    return f"w.s{int(seconds)}"


def _starts(windows: list[int]) -> str:
    """The row `w` of an event's window starts, computed by PostgreSQL from its instant:
    exact (an interval of seconds only, no calendar arithmetic), as `at - timedelta(...)`
    is. OFFSET 0 keeps the planner from folding the subquery into its users, which would
    compute each start again for every fact compared with it."""
    starts = ", ".join(f"e.at - interval '{int(seconds)} seconds' AS s{int(seconds)}" for seconds in windows)
    return f"(SELECT {starts} OFFSET 0) AS w"


def _kind(kind: str) -> str:
    """A fact kind as an SQL literal: only the catalogue's names get here (the compiler
    refuses any other), checked again because it is written into the SQL."""
    if kind not in FACT_KINDS:
        raise ValueError(f"unknown fact kind {kind!r}")
    return f"'{kind}'"


def _sql_columns(ref: AggregateRef, index: int, ring: int, medians: list) -> str:
    """The four columns (sum, count, low, high) of one aggregate over the groups `g`; its
    window is the rings up to `ring`. A median sorts its window once, in its own CTE."""
    if ref.function == "net_loss":
        kinds_in = ", ".join(_kind(kind) for kind in NET_LOSS_SIGNS)
        cases = " ".join(f"WHEN {_kind(kind)} THEN {sign} * total" for kind, sign in NET_LOSS_SIGNS.items())
        loss = (
            f"COALESCE(SUM(CASE kind {cases} END) FILTER (WHERE kind IN ({kinds_in}) AND ring <= {ring}), 0)"
        )
        return f"{loss}, 0, NULL, NULL"
    where = f"kind = {_kind(ref.kind)} AND ring <= {ring}" + (
        " AND night" if ref.function == "night_count" else ""
    )
    columns = [
        f"COALESCE(SUM(total) FILTER (WHERE {where}), 0)",
        f"COALESCE(SUM(n) FILTER (WHERE {where}), 0)",
    ]
    if ref.function == "median":
        medians.append(
            f"m{index} AS (SELECT a[(cardinality(a) + 1) / 2] AS low, a[cardinality(a) / 2 + 1] AS high"  # noqa: S608 - names from the catalogue; values are parameters
            " FROM (SELECT array_agg(amount ORDER BY amount) AS a FROM rules_fact"
            f" WHERE player_id = e.player AND kind = {_kind(ref.kind)}"
            f" AND occurred_at > {_since(ref.window_seconds)} AND {_UP_TO}) AS s)"
        )
        columns += [f"(SELECT low FROM m{index})", f"(SELECT high FROM m{index})"]  # noqa: S608 - names from the catalogue; values are parameters
    elif ref.function in ("min", "max"):
        columns += [f"MIN(low) FILTER (WHERE {where})", f"MAX(high) FILTER (WHERE {where})"]
    else:
        columns += ["NULL", "NULL"]
    return ", ".join(columns)


@lru_cache(maxsize=1024)
def _statement(refs: tuple[AggregateRef, ...]) -> _Statement:
    """The statement of these aggregates (a tuple in a fixed order): built once per process.

    The windows all end at the event, so they nest: the player's facts are grouped once
    by (kind, night, ring), ring i holding what is in window i but not in the shorter
    ones, and every aggregate reads those few groups (a player with thousands of facts
    costs one pass, not one per aggregate).

    One statement serves a whole batch: the events come as arrays, unnested into rows
    `e` (player, at, event), and each row's aggregates are that per-event query run
    LATERAL, the rows returned in the order of the arrays. PostgreSQL then executes one
    statement per batch instead of one per event (each with its own bind, executor start
    and result message), and the worker dumps three arrays instead of a dozen parameters
    an event."""
    windows = sorted({ref.window_seconds for ref in refs})
    ring = " ".join(
        f"WHEN occurred_at > {_since(seconds)} THEN {i}" for i, seconds in enumerate(windows[:-1])
    )
    ring = f"CASE {ring} ELSE {len(windows) - 1} END" if ring else "0"
    ring_of = {seconds: i for i, seconds in enumerate(windows)}
    medians: list[str] = []
    columns = ", ".join(
        _sql_columns(ref, i, ring_of[ref.window_seconds], medians) for i, ref in enumerate(refs)
    )
    groups = (
        f"g AS (SELECT kind, night, {ring} AS ring, SUM(amount) AS total, COUNT(*) AS n,"  # noqa: S608 - names from the catalogue; values are parameters
        " MIN(amount) AS low, MAX(amount) AS high FROM rules_fact"
        f" WHERE player_id = e.player AND occurred_at > {_since(windows[-1])} AND {_UP_TO}"
        " GROUP BY 1, 2, 3)"
    )
    # The columns are built from the catalogue's names and integers only; every value is a parameter.
    per_event = f"WITH {', '.join([groups, *medians])} SELECT {columns} FROM g"  # noqa: S608
    sql = (
        "SELECT a.* FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[]) WITH ORDINALITY"  # noqa: S608
        f" AS e(player, at, event, n) CROSS JOIN LATERAL {_starts(windows)}"
        f" CROSS JOIN LATERAL ({per_event}) AS a ORDER BY e.n"
    )
    return _Statement(sql=sql, refs=refs)


def _in_order(refs) -> tuple[AggregateRef, ...]:
    return tuple(sorted(refs, key=lambda ref: (ref.function, ref.kind, ref.window_seconds)))


def aggregates_fetch(
    *, player_id: int, at: datetime, event_id: int, refs
) -> dict[AggregateRef, Decimal | None]:
    """Every aggregate in `refs` for the player, over windows ending at event `event_id`
    at `at` (inclusive), in one statement (`_statement`). On SQLite (`make run`) the facts
    are read and counted in memory, by the backtest's code."""
    return aggregates_fetch_many([(player_id, at, event_id, refs)])[0]


def aggregates_fetch_many(requests: list[tuple]) -> list[dict[AggregateRef, Decimal | None]]:
    """`aggregates_fetch` for many (player id, at, event id, refs) at once: the requests
    of one set of aggregates go to PostgreSQL as one statement (`_statement`)."""
    results: list = [{} for _ in requests]
    if connection.vendor != "postgresql":
        for n, (player_id, at, event_id, refs) in enumerate(requests):
            if refs:
                results[n] = _aggregates_in_memory(player_id, at, event_id, list(refs))
        return results
    groups: dict[tuple, list[int]] = {}
    for n, (_, _, _, refs) in enumerate(requests):
        if refs:
            groups.setdefault(_in_order(refs), []).append(n)
    for refs, members in groups.items():
        statement = _statement(refs)
        rows = hotpath.fetchall(statement.sql, statement.params([requests[n] for n in members]))
        for n, row in zip(members, rows, strict=True):
            results[n] = statement.values(row)
    return results


def _aggregates_in_memory(player_id: int, at: datetime, event_id: int, refs: list[AggregateRef]) -> dict:
    from apps.rules.models import Fact as FactRow

    longest = max(ref.window_seconds for ref in refs)
    history = FactHistory()
    rows = (
        FactRow.objects.filter(player_id=player_id, occurred_at__gt=at - timedelta(seconds=longest))
        .filter(Q(occurred_at__lt=at) | Q(occurred_at=at, event_id__lte=event_id))
        .order_by("occurred_at", "event_id")
    )
    for kind, amount, occurred_at, night in rows.values_list("kind", "amount", "occurred_at", "night"):
        history.add(Fact(kind=kind, amount=amount, occurred_at=occurred_at, night=night))
    return {ref: history.aggregate(ref, at) for ref in refs}


SCALE = 18  # facts' amounts as integers of 10**-18: sums of any length stay exact


class _Series:
    """One kind's facts in time order with running totals: a window's sum, count and
    night count are two bisects and two subtractions."""

    __slots__ = ("times", "amounts", "sums", "nights")

    def __init__(self):
        self.times: list[datetime] = []
        self.amounts: list[int] = []
        self.sums: list[int] = [0]
        self.nights: list[int] = [0]

    def add(self, at: datetime, amount: int, night: bool) -> None:
        self.times.append(at)
        self.amounts.append(amount)
        self.sums.append(self.sums[-1] + amount)
        self.nights.append(self.nights[-1] + night)

    def span(self, since: datetime, at: datetime) -> tuple[int, int]:
        """Indexes [lo, hi) of the facts in (since, at]."""
        hi = bisect_right(self.times, at)
        return bisect_right(self.times, since, 0, hi), hi

    def drop(self, count: int) -> None:
        base_sum, base_nights = self.sums[count], self.nights[count]
        del self.times[:count], self.amounts[:count]
        self.sums = [total - base_sum for total in self.sums[count:]]
        self.nights = [total - base_nights for total in self.nights[count:]]


class _Ordered:
    """The amounts of one (kind, window) in order, slid forward as time goes on: a median,
    min or max is an index into a SortedList, not a sort of the window."""

    __slots__ = ("values", "lo", "hi")

    def __init__(self):
        self.values = SortedList()
        self.lo = self.hi = 0

    def slide(self, series: _Series, lo: int, hi: int) -> SortedList:
        if lo < self.lo or hi < self.hi:  # time went back: start again
            self.values, self.lo, self.hi = SortedList(series.amounts[lo:hi]), lo, hi
            return self.values
        for index in range(self.lo, min(lo, self.hi)):
            self.values.remove(series.amounts[index])
        if lo > self.hi:
            self.values.clear()
        self.values.update(series.amounts[max(lo, self.hi) : hi])
        self.lo, self.hi = lo, hi
        return self.values


class FactHistory:
    """One player's facts, added in (time, event id) order, read by any window at any
    later time in O(log n) (the backtest asks at every triggering event)."""

    __slots__ = ("series", "ordered")

    def __init__(self):
        self.series: dict[str, _Series] = {}
        self.ordered: dict[AggregateRef, _Ordered] = {}

    def add(self, fact: Fact) -> None:
        """Add the next fact; facts come in (time, event id) order."""
        series = self.series.get(fact.kind)
        if series is None:
            series = self.series[fact.kind] = _Series()
        series.add(fact.occurred_at, int(fact.amount.scaleb(SCALE)), fact.night)

    def aggregate(self, ref: AggregateRef, at: datetime) -> Decimal | None:
        since = at - timedelta(seconds=ref.window_seconds)
        if ref.function == "net_loss":
            total = 0
            for kind, sign in NET_LOSS_SIGNS.items():
                series = self.series.get(kind)
                if series is not None:
                    lo, hi = series.span(since, at)
                    total += sign * (series.sums[hi] - series.sums[lo])
            return _finish("net_loss", _decimal(total), 0, None, None)
        series = self.series.get(ref.kind)
        if series is None:
            return _finish(ref.function, ZERO, 0, None, None)
        lo, hi = series.span(since, at)
        if ref.function == "night_count":
            return _finish("night_count", ZERO, series.nights[hi] - series.nights[lo], None, None)
        low = high = None
        if hi > lo and ref.function in ("median", "min", "max"):
            ordered = self.ordered.get(ref)
            if ordered is None:
                ordered = self.ordered[ref] = _Ordered()
            values = ordered.slide(series, lo, hi)
            if ref.function == "median":
                count = len(values)
                low, high = values[(count - 1) // 2], values[count // 2]
            else:
                low, high = values[0], values[-1]
            low, high = _decimal(low), _decimal(high)
        return _finish(ref.function, _decimal(series.sums[hi] - series.sums[lo]), hi - lo, low, high)

    def forget_before(self, moment: datetime) -> None:
        """Drop facts no window can reach any more (the backtest walks forward in time)."""
        for series in self.series.values():
            cut = bisect_right(series.times, moment)
            if cut:
                series.drop(cut)
        # The ordered windows index into the series: they start again where they are read.
        for ordered in self.ordered.values():
            ordered.values, ordered.lo, ordered.hi = SortedList(), 0, 0


def _decimal(scaled: int) -> Decimal:
    return Decimal(scaled).scaleb(-SCALE)
