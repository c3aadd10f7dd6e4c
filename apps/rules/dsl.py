"""BeAware's condition language: parsed by lark, compiled to Python closures, never eval'd.

A condition is one boolean expression over the event and the player's history:

    event.amount >= 500 and sum(deposit, 24h) > 2000
    count(deposit_failed, 1h) >= 3
    net_loss(7d) > 1000 or night_count(deposit, 7d) >= 5
    event.amount > 5 * median(bet, 30d)
    event.method in ("crypto", "e_wallet") and not event.hour in (8, 9, 10)

- `event.<field>`: a field of the event's payload; `event.amount` is in major units
  (10.50, not 1050), `event.type` is the event type and `event.hour` / `event.weekday`
  the local time at the brand. A field the event lacks is null.
- Aggregates over the player's facts (catalogue.FACT_KINDS) in the window that ends at
  the event, inclusive: (t - window, t]. `sum`, `count`, `avg`, `min`, `max`, `median`
  and `night_count` (facts at 00:00-05:59 local) take a kind and a window; `net_loss`
  (bets - wins - returned stakes + wins taken back) takes a window. Windows: `30m`, `24h`, `7d`, at most
  90 days. Amounts are major units; an aggregate over no facts is 0 (avg, min, max and
  median: null).
- Numbers are exact decimals. Comparing or computing with null gives null, and a
  condition fires only when it is exactly true; dividing by zero gives null.

`compile_condition` refuses anything else with a ConditionInvalid that says where, so a
rule that saves is a rule that can run. Compiled conditions are plain closures: ~1 µs a
comparison, which is what lets one worker evaluate a hundred rules per event.
"""

import operator
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from apps.rules.catalogue import AGGREGATE_FUNCTIONS, FACT_KINDS, MAX_WINDOW_SECONDS
from apps.rules.exceptions import ConditionInvalid

MAX_CONDITION_LENGTH = 2000

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("or" and_expr)*              -> or_
?and_expr: not_expr ("and" not_expr)*            -> and_
?not_expr: "not" not_expr                        -> not_
         | comparison
?comparison: sum_expr
           | sum_expr COMP_OP sum_expr           -> compare
           | sum_expr "in" list                  -> in_
           | sum_expr "not" "in" list            -> not_in
?sum_expr: product
         | sum_expr ADD_OP product               -> arith
?product: unary
        | product MUL_OP unary                   -> arith
?unary: "-" unary                                -> neg
      | atom
?atom: NUMBER                                    -> number
     | STRING                                    -> string
     | "true"                                    -> true
     | "false"                                   -> false
     | "null"                                    -> null
     | NAME "." NAME                             -> field
     | NAME "(" [arg ("," arg)*] ")"             -> call
     | "(" or_expr ")"
list: "(" [sum_expr ("," sum_expr)*] ")"
?arg: DURATION                                   -> duration
    | NAME                                       -> bare

COMP_OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
DURATION.2: /[0-9]+[mhd]\b/
NUMBER: /[0-9]+(\.[0-9]+)?/
STRING: /"[^"\\\n]*"/ | /'[^'\\\n]*'/
NAME: /[a-z_][a-z0-9_]*/

%import common.WS
%ignore WS
"""

# Types the compiler tracks, to refuse "count(bet, 1h) and 3" when the rule is saved.
NUM, STR, BOOL, ANY, NULL = "number", "text", "boolean", "any", "null"

Evaluator = Callable[["EvalContext"], object]


@dataclass(frozen=True)
class AggregateRef:
    """One aggregate a condition reads: function, fact kind ("" for net_loss), window."""

    function: str
    kind: str
    window_seconds: int

    def __post_init__(self):
        # Looked up in a dict by every condition of every event: hashed once, not per lookup.
        object.__setattr__(self, "_hash", hash((self.function, self.kind, self.window_seconds)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def label(self) -> str:
        window = _window_label(self.window_seconds)
        return f"{self.function}({self.kind + ', ' if self.kind else ''}{window})"


# Weak: an aggregate no compiled condition holds any more (a rule edited away, a condition
# typed in the admin and refused) is forgotten, so the table stays as small as the rules.
_REFS: "weakref.WeakValueDictionary[AggregateRef, AggregateRef]" = weakref.WeakValueDictionary()


def _interned(ref: AggregateRef) -> AggregateRef:
    """One instance per aggregate across every compiled condition, so the engine's lookups
    of a value match by identity and never need to compare fields."""
    return _REFS.setdefault(ref, ref)


class EvalContext:
    """What a condition reads: the event's fields and, on demand, the player's aggregates.

    `aggregates` is called once, with every aggregate any candidate rule of the event
    reads, the first time a condition needs one; a condition whose cheaper clauses
    already decided it never causes a query.
    """

    __slots__ = ("fields", "_resolve", "_values")

    def __init__(self, fields: dict, resolve: Callable[[], dict]):
        self.fields = fields
        self._resolve = resolve
        self._values: dict | None = None

    def aggregate(self, ref: AggregateRef):
        if self._values is None:
            self._values = self._resolve()
        return self._values[ref]


@dataclass(frozen=True)
class Condition:
    source: str
    evaluate: Evaluator
    aggregates: frozenset[AggregateRef]
    fields: frozenset[str]

    def matches(self, context: EvalContext) -> bool:
        return self.evaluate(context) is True


_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _window_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _typed(kind: str, evaluate: Evaluator) -> tuple[str, Evaluator]:
    return kind, evaluate


def _expect(node: tuple[str, Evaluator], allowed: tuple[str, ...], what: str) -> Evaluator:
    kind, evaluate = node
    if kind not in allowed and kind not in (ANY, NULL):
        raise ConditionInvalid(f"{what} needs {' or '.join(allowed)}, not {kind}.", code="type_error")
    return evaluate


def _safe_compare(op, left, right):
    if left is None or right is None:
        return None if op not in (operator.eq, operator.ne) else op(left, right)
    try:
        return op(left, right)
    except TypeError:  # text against a number, read from a payload: no match, not a crash
        return None


def _safe_arith(symbol: str, left, right):
    if left is None or right is None:
        return None
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if not isinstance(left, Decimal) or not isinstance(right, Decimal):
        return None
    try:
        if symbol == "+":
            return left + right
        if symbol == "-":
            return left - right
        if symbol == "*":
            return left * right
        return left / right if right != 0 else None
    except InvalidOperation:
        return None


@v_args(inline=True)
class _Compiler(Transformer):
    """Bottom-up: each node becomes (type, closure). Names of aggregates and fields read
    are collected so the engine can fetch every aggregate of an event in one query."""

    def __init__(self):
        super().__init__()
        self.aggregates: set[AggregateRef] = set()
        self.fields: set[str] = set()

    # --- literals -------------------------------------------------------------------
    def number(self, token: Token):
        value = Decimal(str(token))

        def constant(ctx):
            return value

        constant.value = value  # lets a comparison with it skip the call (see `compare`)
        return _typed(NUM, constant)

    def string(self, token: Token):
        value = str(token)[1:-1]
        return _typed(STR, lambda ctx: value)

    def true(self):
        return _typed(BOOL, lambda ctx: True)

    def false(self):
        return _typed(BOOL, lambda ctx: False)

    def null(self):
        return _typed(NULL, lambda ctx: None)

    # --- names ----------------------------------------------------------------------
    def field(self, root: Token, name: Token):
        if str(root) != "event":
            raise ConditionInvalid(
                f"Unknown name {root}.{name}: conditions read event.<field> and aggregates.",
                code="unknown_name",
            )
        key = str(name)
        self.fields.add(key)
        return _typed(ANY, lambda ctx: ctx.fields.get(key))

    def duration(self, token: Token):
        text = str(token)
        seconds = int(text[:-1]) * {"m": 60, "h": 3600, "d": 86400}[text[-1]]
        return ("duration", seconds)

    def bare(self, token: Token):
        return ("bare", str(token))

    def call(self, name: Token, *args):
        function = str(name)
        args = [a for a in args if a is not None]
        if function not in AGGREGATE_FUNCTIONS:
            known = ", ".join(sorted(AGGREGATE_FUNCTIONS))
            raise ConditionInvalid(f"Unknown function {function}(); known: {known}.", code="unknown_function")
        takes_kind = AGGREGATE_FUNCTIONS[function]
        expected = ["bare", "duration"] if takes_kind else ["duration"]
        if [a[0] for a in args] != expected:
            form = f"{function}(kind, window)" if takes_kind else f"{function}(window)"
            raise ConditionInvalid(f"Write {form}, e.g. {_example(function)}.", code="bad_arguments")
        kind = args[0][1] if takes_kind else ""
        if takes_kind and kind not in FACT_KINDS:
            raise ConditionInvalid(
                f"Unknown kind {kind!r} in {function}(); known: {', '.join(FACT_KINDS)}.",
                code="unknown_kind",
            )
        seconds = args[-1][1]
        if not 0 < seconds <= MAX_WINDOW_SECONDS:
            raise ConditionInvalid(
                f"A window is 1 minute to {MAX_WINDOW_SECONDS // 86400} days.", code="bad_window"
            )
        ref = _interned(AggregateRef(function, kind, seconds))
        self.aggregates.add(ref)
        return _typed(NUM, lambda ctx: ctx.aggregate(ref))

    # --- operators ------------------------------------------------------------------
    def neg(self, operand):
        evaluate = _expect(operand, (NUM,), "'-'")
        return _typed(NUM, lambda ctx: _safe_arith("-", Decimal(0), evaluate(ctx)))

    def arith(self, left, op: Token, right):
        symbol = str(op)
        lhs = _expect(left, (NUM,), f"'{symbol}'")
        rhs = _expect(right, (NUM,), f"'{symbol}'")
        return _typed(NUM, lambda ctx: _safe_arith(symbol, lhs(ctx), rhs(ctx)))

    def compare(self, left, op: Token, right):
        symbol = str(op)
        test = _COMPARE[symbol]
        if symbol not in ("==", "!=") and NULL in (left[0], right[0]):
            raise ConditionInvalid(f"'{symbol}' cannot compare with null.", code="type_error")
        known = {left[0], right[0]} - {ANY, NULL}
        if len(known) > 1:
            raise ConditionInvalid(f"'{symbol}' compares {left[0]} with {right[0]}.", code="type_error")
        lhs, rhs = left[1], right[1]
        if symbol not in ("==", "!=") and hasattr(rhs, "value"):
            # The usual shape, `aggregate or field <op> number`: one closure, no call for
            # the number, the same answers as _safe_compare (null and mismatched types: null).
            value = rhs.value

            def against_number(ctx):
                left = lhs(ctx)
                if left is None:
                    return None
                try:
                    return test(left, value)
                except TypeError:
                    return None

            return _typed(BOOL, against_number)
        return _typed(BOOL, lambda ctx: _safe_compare(test, lhs(ctx), rhs(ctx)))

    def list(self, *items):
        evaluators = [item[1] for item in items if item is not None]
        return ("list", evaluators)

    def in_(self, needle, haystack):
        value = needle[1]
        members = haystack[1]
        return _typed(BOOL, lambda ctx: _member(value(ctx), [m(ctx) for m in members]))

    def not_in(self, needle, haystack):
        contained = self.in_(needle, haystack)[1]
        return _typed(BOOL, lambda ctx: _not(contained(ctx)))

    def not_(self, operand):
        evaluate = _expect(operand, (BOOL,), "'not'")
        return _typed(BOOL, lambda ctx: _not(evaluate(ctx)))

    def and_(self, *operands):
        if len(operands) == 1:  # a lone operand (lark keeps the alias): not a conjunction
            return operands[0]
        evaluators = [_expect(o, (BOOL,), "'and'") for o in operands]

        def all_true(ctx):
            result = True
            for evaluate in evaluators:
                value = evaluate(ctx)
                if value is False:
                    return False  # short-circuit: later aggregates are never fetched
                if value is not True:
                    result = None
            return result

        return _typed(BOOL, all_true)

    def or_(self, *operands):
        if len(operands) == 1:
            return operands[0]
        evaluators = [_expect(o, (BOOL,), "'or'") for o in operands]

        def any_true(ctx):
            result = False
            for evaluate in evaluators:
                value = evaluate(ctx)
                if value is True:
                    return True
                if value is not False:
                    result = None
            return result

        return _typed(BOOL, any_true)


def _member(value, members) -> bool | None:
    if value is None:
        return None
    if isinstance(value, list):  # a list field: "x" in event.flags reads the other way round
        return None
    return value in members


def _not(value):
    return None if value is None else not value


def _example(function: str) -> str:
    return "net_loss(7d)" if not AGGREGATE_FUNCTIONS[function] else f"{function}(deposit, 24h)"


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


def compile_condition(source: str) -> Condition:
    """Parse and type-check `source`; the Condition it returns evaluates without parsing.
    Raises ConditionInvalid (code syntax_error, type_error, unknown_name, ...) with the
    position of a syntax error."""
    if not isinstance(source, str) or not source.strip():
        raise ConditionInvalid("A condition is required.", code="required")
    if len(source) > MAX_CONDITION_LENGTH:
        raise ConditionInvalid(f"A condition is at most {MAX_CONDITION_LENGTH} characters.", code="too_long")
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as exc:
        raise ConditionInvalid(
            f"Syntax error at line {exc.line}, column {exc.column}: {_near(source, exc)}",
            code="syntax_error",
        ) from None
    except (LarkError, RecursionError):
        raise ConditionInvalid("The condition cannot be read.", code="syntax_error") from None
    compiler = _Compiler()
    try:
        kind, evaluate = compiler.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConditionInvalid):
            raise exc.orig_exc from None
        raise ConditionInvalid("The condition cannot be read.", code="syntax_error") from None
    except RecursionError:
        raise ConditionInvalid("The condition is nested too deeply.", code="too_deep") from None
    if kind not in (BOOL, ANY):
        raise ConditionInvalid(f"A condition must be true or false, not a {kind}.", code="type_error")
    return Condition(
        source=source,
        evaluate=evaluate,
        aggregates=frozenset(compiler.aggregates),
        fields=frozenset(compiler.fields),
    )


def _near(source: str, exc: UnexpectedInput) -> str:
    position = getattr(exc, "pos_in_stream", None)
    if position is None:
        return "unexpected input."
    snippet = source[position : position + 20]
    return f"unexpected {snippet!r}." if snippet else "unexpected end of the condition."
