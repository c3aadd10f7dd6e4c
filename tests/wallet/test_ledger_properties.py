"""Property test: random sequences of wallet requests against a small Python model of the wallet.

Two wallets, and every kind of request the services take, new or sent again (the same or
changed): deposits, bets, wins on earlier bets (or on anything else), rollbacks of bets,
wins, rollbacks and ids never seen, late bets whose id was rolled back, withdrawals
reserved, released and paid out, bonuses granted, converted and forfeited. The model
predicts each answer exactly (result or error), and after every step the database must
agree with it: every bucket, no negative bucket, each wallet equal to its entries, every
transaction summing to zero, exactly the ledger rows the model expects (each key once)
and one event per movement recorded.
"""

import itertools
from collections import Counter
from dataclasses import replace

import pytest
from django.db import connection
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from apps.wallet import services
from apps.wallet.exceptions import (
    DuplicateTransaction,
    InsufficientFunds,
    RollbackRefused,
    TransactionNotFound,
    TransactionRolledBack,
)
from apps.wallet.movements import ENTRY_SIGN
from tests.factories import PlayerFactory
from tests.wallet.actions import GAME, PAYMENTS
from tests.wallet.ledger import transaction_row, unbalanced_transactions
from tests.wallet.model import BUCKETS, Request, WalletModel, send

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

_machines = itertools.count(1)
# What the runs went through, so the test can prove it tried the interesting cases.
SEEN: Counter = Counter()


def database_state(wallet_ids: list[int]) -> dict:
    """Everything the invariant compares, in four plain queries (it runs after every step)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, cash, bonus, reserved, debt FROM wallet_wallet WHERE id = ANY(%s)", [wallet_ids]
        )
        state = {"balances": {row[0]: dict(zip(BUCKETS, row[1:], strict=True)) for row in cursor.fetchall()}}
        cursor.execute(
            "SELECT wallet_id, bucket, SUM(amount) FROM wallet_ledgerentry WHERE wallet_id = ANY(%s)"
            " GROUP BY wallet_id, bucket",
            [wallet_ids],
        )
        state["from_entries"] = {wallet_id: dict.fromkeys(BUCKETS, 0) for wallet_id in wallet_ids}
        for wallet_id, bucket, total in cursor.fetchall():
            state["from_entries"][wallet_id][bucket] = ENTRY_SIGN[bucket] * int(total)
        cursor.execute(
            "SELECT source, external_id, kind, amount, wallet_id FROM wallet_ledgertransaction"
            " WHERE wallet_id = ANY(%s) ORDER BY 1, 2",
            [wallet_ids],
        )
        state["rows"] = sorted(cursor.fetchall())
        cursor.execute(
            "SELECT COUNT(*) FROM core_event WHERE type LIKE 'wallet.%%' AND player_id IN"
            " (SELECT player_id FROM wallet_wallet WHERE id = ANY(%s))",
            [wallet_ids],
        )
        state["events"] = cursor.fetchone()[0]
    state["unbalanced"] = unbalanced_transactions(*wallet_ids)
    return state


WALLET = st.integers(min_value=0, max_value=1)
AMOUNT = st.integers(min_value=0, max_value=3_000)
STAKE = st.integers(min_value=0, max_value=1_000)
POSITIVE = st.integers(min_value=1, max_value=3_000)


def wallet_machine(brand):
    class WalletLedgerMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.prefix = f"m{next(_machines)}"
            self.serial = itertools.count(1)
            self.wallets = [
                services.wallet_get_or_create(player=PlayerFactory(brand=brand), currency_code="GBP")
                for _ in range(2)
            ]
            self.model = WalletModel()
            self.sent: list[Request] = []

        def new_key(self, name: str) -> str:
            return f"{self.prefix}-{name}-{next(self.serial)}"

        def game_keys(self) -> list[str]:
            return sorted(key for source, key in self.model.records if source == GAME)

        # --- the one way a request is sent and judged --------------------------------------
        def submit(self, request: Request) -> None:
            expected = self.model.predict(request)
            wallet = self.wallets[request.wallet]
            try:
                result = send(wallet, request)
            except (
                DuplicateTransaction,
                InsufficientFunds,
                RollbackRefused,
                TransactionNotFound,
                TransactionRolledBack,
            ) as error:
                assert type(error) is expected.error, (request, expected, error)
                if expected.code:
                    assert error.code == expected.code
                if isinstance(error, InsufficientFunds):
                    assert error.balance == self.model.buckets[request.wallet]
                self.sent.append(request)
                SEEN[f"{request.kind}:{type(error).__name__}:{expected.code or expected.case}"] += 1
                return
            assert expected.error is None, (request, expected, result)
            if expected.new:
                written = self.model.apply(request)
                SEEN[f"{request.kind}:applied" + (":tombstone" if len(written) == 2 else "")] += 1
                if expected.case:
                    SEEN[f"{request.kind}:applied:{expected.case}"] += 1
                for source, key in written:
                    self.model.records[(source, key)].txn_id = transaction_row(source, key).pk
                record = self.model.records[(request.source, request.key)]
                assert (result.replayed, result.transaction_id) == (False, record.txn_id)
            else:
                record = self.model.records[(request.source, expected.replay_of)]
                assert (result.replayed, result.transaction_id) == (True, record.txn_id)
                SEEN[f"{request.kind}:replayed" + (f":{expected.case}" if expected.case else "")] += 1
            assert (result.kind, result.amount, result.wallet_id) == (record.kind, record.amount, wallet.pk)
            assert {b: getattr(result, b) for b in BUCKETS} == self.model.buckets[request.wallet]
            self.sent.append(request)

        def pick_game_key(self, data, w: int, prefer: tuple[str, ...]) -> str:
            """Mostly this wallet's transactions of the preferred kinds; sometimes anything, or an
            id never seen."""
            own = [
                key
                for key in self.game_keys()
                if self.model.records[(GAME, key)].wallet == w
                and self.model.records[(GAME, key)].kind in prefer
            ]
            where = data.draw(st.sampled_from(["own", "own", "own", "any", "unknown"]))
            if where == "own" and own:
                return data.draw(st.sampled_from(own))
            if where == "any" and self.game_keys():
                return data.draw(st.sampled_from(self.game_keys()))
            return self.new_key("unknown")

        def pick_amount(self, data, w: int, bucket: str) -> int:
            """Often exactly what the bucket holds or part of it, sometimes any amount."""
            buckets = self.model.buckets[w]
            held = buckets["cash"] + buckets["bonus"] if bucket == "playable" else buckets[bucket]
            how = data.draw(st.sampled_from(["all", "part", "any"]))
            if how == "all" and held:
                return held
            if how == "part" and held > 1:
                return data.draw(st.integers(min_value=1, max_value=held - 1))
            return data.draw(POSITIVE)

        # --- new requests -------------------------------------------------------------------------
        @initialize(
            cash=st.lists(POSITIVE, min_size=2, max_size=2),
            bonus=st.lists(AMOUNT, min_size=2, max_size=2),
            debt=st.lists(st.one_of(st.just(0), POSITIVE), min_size=2, max_size=2),
        )
        def fund(self, cash, bonus, debt):
            """Each wallet starts with some cash and bonus, and maybe owing money: a free spin
            won, the win staked, and the win rolled back."""
            for w in (0, 1):
                if debt[w]:
                    spin, won = self.new_key("spin"), self.new_key("win")
                    self.submit(Request("bet", w, spin, 0))
                    self.submit(Request("win", w, won, debt[w], target=spin))
                    self.submit(Request("bet", w, self.new_key("bet"), debt[w]))
                    self.submit(Request("rollback", w, self.new_key("rb"), target=won))
                self.submit(Request("deposit", w, self.new_key("dep"), cash[w], payment_ref="p-0"))
                if bonus[w]:
                    self.submit(Request("bonus_grant", w, self.new_key("bonus"), bonus[w]))

        @rule(w=WALLET, amount=POSITIVE)
        def deposit(self, w, amount):
            self.submit(Request("deposit", w, self.new_key("dep"), amount, payment_ref="p-1"))

        @rule(w=WALLET, data=st.data())
        def bet(self, w, data):
            amount = self.pick_amount(data, w, "playable")
            self.submit(Request("bet", w, self.new_key("bet"), amount, round_ref="r-1"))

        @rule(w=WALLET, stake=STAKE, payout=AMOUNT, retry=st.sampled_from(["none", "same", "changed"]))
        def game_round(self, w, stake, payout, retry):
            """A bet and a win on it, the usual round; the provider may send the win twice."""
            bet = self.new_key("bet")
            self.submit(Request("bet", w, bet, stake, round_ref="r-2"))
            paid = Request("win", w, self.new_key("win"), payout, round_ref="r-2", target=bet)
            self.submit(paid)
            if retry == "same":
                self.submit(paid)
            elif retry == "changed":
                self.submit(replace(paid, amount=payout + 1))

        @rule(
            w=WALLET,
            stake=STAKE,
            mess=st.lists(
                st.sampled_from(
                    [
                        "same rollback",
                        "same rollback id, another target",
                        "another rollback id",
                        "another rollback id, another round",
                        "late win",
                        "rollback of the rollback",
                    ]
                ),
                max_size=5,
            ),
        )
        def cancelled_round(self, w, stake, mess):
            """A bet rolled back, then whatever a confused provider sends after that."""
            bet, first = self.new_key("bet"), self.new_key("rb")
            self.submit(Request("bet", w, bet, stake, round_ref="r-4"))
            self.submit(Request("rollback", w, first, round_ref="r-4", target=bet))
            second = self.new_key("rb")
            for step in mess:
                if step == "same rollback":
                    self.submit(Request("rollback", w, first, round_ref="r-4", target=bet))
                elif step == "same rollback id, another target":
                    self.submit(
                        Request("rollback", w, first, round_ref="r-4", target=self.new_key("unknown"))
                    )
                elif step == "another rollback id":  # sent twice: the second time a replay of itself
                    self.submit(Request("rollback", w, second, round_ref="r-4", target=bet))
                elif step == "another rollback id, another round":
                    self.submit(Request("rollback", w, second, round_ref="r-5", target=bet))
                elif step == "late win":
                    self.submit(Request("win", w, self.new_key("win"), stake, round_ref="r-4", target=bet))
                else:
                    self.submit(Request("rollback", w, self.new_key("rb"), round_ref="r-4", target=first))

        @rule(w=WALLET, stake=STAKE)
        def rollback_overtakes_its_bet(self, w, stake):
            """The rollback arrives first, the bet after it (and is refused)."""
            bet = self.new_key("bet")
            self.submit(Request("rollback", w, self.new_key("rb"), round_ref="r-3", target=bet))
            self.submit(Request("bet", w, bet, stake, round_ref="r-3"))

        @rule(w=WALLET, amount=AMOUNT, data=st.data())
        def win(self, w, amount, data):
            bet = self.pick_game_key(data, w, ("bet",))
            self.submit(Request("win", w, self.new_key("win"), amount, round_ref="r-1", target=bet))

        @rule(w=WALLET, data=st.data())
        def spend_then_roll_a_win_back(self, w, data):
            """Everything staked, then a paid win rolled back: what cash cannot cover becomes debt."""
            wins = [
                key
                for (source, key), record in sorted(self.model.records.items())
                if source == GAME and record.kind == "win" and record.wallet == w
            ]
            if wins:
                buckets = self.model.buckets[w]
                self.submit(Request("bet", w, self.new_key("bet"), buckets["cash"] + buckets["bonus"]))
                target = data.draw(st.sampled_from(wins))
                self.submit(Request("rollback", w, self.new_key("rb"), round_ref="r-1", target=target))

        @rule(w=WALLET, data=st.data())
        def rollback(self, w, data):
            target = self.pick_game_key(data, w, ("bet", "win"))
            self.submit(Request("rollback", w, self.new_key("rb"), round_ref="r-1", target=target))

        @rule(w=WALLET, amount=STAKE, data=st.data())
        def late_bet(self, w, amount, data):
            tombstones = [
                key for key in self.game_keys() if self.model.records[(GAME, key)].kind == "tombstone"
            ]
            if tombstones:
                key = data.draw(st.sampled_from(tombstones))
                self.submit(Request("bet", w, key, amount, round_ref="r-1"))

        @rule(
            w=WALLET,
            then=st.sampled_from(["release", "settle", "settle in part", "wait"]),
            data=st.data(),
        )
        def withdrawal(self, w, then, data):
            """Cash reserved for a withdrawal, then released, paid out (maybe in part) or left waiting."""
            amount = self.pick_amount(data, w, "cash")
            self.submit(Request("withdrawal_reserve", w, self.new_key("wd"), amount, payment_ref="p-1"))
            if then == "release":
                self.submit(
                    Request("withdrawal_release", w, self.new_key("wd-release"), amount, payment_ref="p-1")
                )
            elif then == "settle":
                self.submit(
                    Request("withdrawal_settle", w, self.new_key("wd-paid"), amount, payment_ref="p-1")
                )
            elif then == "settle in part" and amount > 1:
                self.submit(
                    Request("withdrawal_settle", w, self.new_key("wd-paid"), amount // 2, payment_ref="p-1")
                )

        @rule(kind=st.sampled_from(["withdrawal_release", "withdrawal_settle"]), w=WALLET, data=st.data())
        def withdrawal_decided(self, kind, w, data):
            """A waiting withdrawal released or paid out, maybe for more than is reserved."""
            amount = self.pick_amount(data, w, "reserved")
            self.submit(Request(kind, w, self.new_key(kind), amount, payment_ref="p-1"))

        @rule(
            kind=st.sampled_from(["bonus_grant", "bonus_convert", "bonus_forfeit"]), w=WALLET, data=st.data()
        )
        def bonus_move(self, kind, w, data):
            amount = self.pick_amount(data, w, "bonus")
            self.submit(Request(kind, w, self.new_key(kind), amount))

        # --- requests sent again ----------------------------------------------------------------
        def pick_sent(self, data) -> Request | None:
            """An earlier request (refused or not), its kind chosen first so every kind comes up."""
            kinds = sorted({request.kind for request in self.sent})
            if not kinds:
                return None
            kind = data.draw(st.sampled_from(kinds))
            return data.draw(st.sampled_from([request for request in self.sent if request.kind == kind]))

        @rule(data=st.data())
        def send_again(self, data):
            original = self.pick_sent(data)
            if original is not None:
                self.submit(original)

        @rule(data=st.data())
        def send_again_changed(self, data):
            """The same key with another amount, round, reference, wallet or target."""
            original = self.pick_sent(data)
            if original is None:
                return
            changes = ["wallet"]
            if original.kind != "rollback":
                changes.append("amount")
            if original.source == GAME:
                changes.append("round")
            if original.source == PAYMENTS:
                changes.append("reference")
            if original.kind in ("win", "rollback"):
                changes += ["target", "target"]
            change = data.draw(st.sampled_from(changes))
            if change == "amount":
                changed = replace(original, amount=original.amount + 1)
            elif change == "round":
                changed = replace(original, round_ref=original.round_ref + "x")
            elif change == "reference":
                changed = replace(original, payment_ref=original.payment_ref + "x")
            elif change == "wallet":
                changed = replace(original, wallet=1 - original.wallet)
            else:
                undone = sorted(self.model.reversed_by)
                where = data.draw(st.sampled_from(["undone", "any", "unknown"]))
                if where == "undone" and undone:
                    target = data.draw(st.sampled_from(undone))
                elif where == "any" and self.game_keys():
                    target = data.draw(st.sampled_from(self.game_keys()))
                else:
                    target = self.new_key("unknown")
                changed = replace(original, target=target)
            self.submit(changed)

        # --- after every step: the database agrees with the model -----------------------------------
        @invariant()
        def database_matches_model(self):
            wallet_ids = [wallet.pk for wallet in self.wallets]
            state = database_state(wallet_ids)
            for index, wallet_id in enumerate(wallet_ids):
                expected = self.model.buckets[index]
                assert all(value >= 0 for value in expected.values()), expected
                assert state["balances"][wallet_id] == expected
                assert state["from_entries"][wallet_id] == expected
                SEEN["debt"] += expected["debt"] > 0
                SEEN["reserved"] += expected["reserved"] > 0
            assert state["unbalanced"] == []
            assert state["rows"] == sorted(
                (source, key, record.kind, record.amount, wallet_ids[record.wallet])
                for (source, key), record in self.model.records.items()
            )
            assert state["events"] == self.model.events

    return WalletLedgerMachine


COVERAGE = [
    *(f"bet:{case}" for case in ("applied", "replayed", "InsufficientFunds:", "TransactionRolledBack:")),
    "bet:DuplicateTransaction:",
    *(f"win:{case}" for case in ("applied", "replayed", "TransactionNotFound:", "TransactionRolledBack:")),
    "win:DuplicateTransaction:",
    "rollback:applied",
    "rollback:applied:tombstone",
    "rollback:replayed",
    "rollback:applied:already-undone",
    "rollback:replayed:undone-by-another",
    "rollback:DuplicateTransaction:",
    "rollback:DuplicateTransaction:undone-by-another",
    "rollback:RollbackRefused:wrong_wallet",
    "rollback:RollbackRefused:not_reversible",
    "deposit:applied",
    "deposit:replayed",
    "deposit:DuplicateTransaction:",
    *(
        f"withdrawal_{step}:{case}"
        for step in ("reserve", "release", "settle")
        for case in ("applied", "InsufficientFunds:")
    ),
    *(f"bonus_{step}:applied" for step in ("grant", "convert", "forfeit")),
    "bonus_convert:InsufficientFunds:",
    "debt",
    "reserved",
]


def test_random_request_sequences_keep_the_ledger_exact(brand):
    SEEN.clear()

    run_state_machine_as_test(
        wallet_machine(brand),
        settings=settings(
            max_examples=150,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            # No shrinking: on a database it can take minutes, and a failing run of at most
            # 20 steps is readable as it is. Add Phase.shrink locally to minimise one.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )

    # ...and the runs went through every kind of answer the model knows (so the exactness
    # above was tried on each of them)
    missing = sorted(case for case in COVERAGE if SEEN[case] == 0)
    assert missing == [], f"never exercised: {missing}"
