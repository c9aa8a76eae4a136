"""Property-based tests: random sequences of money events against the reference Ledger."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from payouts import (
    CaseOutcome,
    FastResponseBonus,
    InsufficientFunds,
    Ledger,
    LedgerError,
    Money,
    PreconditionFailed,
    RatingBonus,
    RewardRules,
    Transaction,
    available_by_expert,
    check_balanced,
    compute_reward,
    credit_reward,
    fund_brand,
    must_stay_non_negative,
    payout_failed,
    payout_reversed,
    payout_succeeded,
    plan_payouts,
    release_reward,
    reversal_repaid,
    reversal_written_off,
    reverse_reward,
    start_payout,
)

BRANDS = {"b1": "eur", "b2": "usd", "b3": "eur"}
EXPERTS = ["e1", "e2", "e3"]
RULES = RewardRules((RatingBonus(bonus_cents=150), FastResponseBonus(bonus_cents=75, within_seconds=60)))
EXPERT_BUCKETS = ("pending", "available", "in_transit", "paid", "held")


class LedgerMachine(RuleBasedStateMachine):
    """Drives fundings, resolutions, rejects, releases, payout runs, failures and replays."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.funded: dict[str, int] = defaultdict(int)  # per currency
        self.cases: dict[str, tuple[str, str, Money]] = {}  # case -> (brand, expert, amount)
        self.earned: dict[tuple[str, str], int] = defaultdict(int)  # (expert, currency)
        self.in_flight: dict[str, Transaction] = {}  # payout_id -> start tx
        self.paid: dict[str, Transaction] = {}
        self.held: dict[str, Transaction] = {}  # payout -> its reversal, awaiting a decision
        self.counter = 0

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    @rule(brand=st.sampled_from(sorted(BRANDS)), cents=st.integers(1, 50_000))
    def fund(self, brand: str, cents: int) -> None:
        currency = BRANDS[brand]
        assert self.ledger.post(fund_brand(brand, Money(cents, currency), self._next("pi")))
        self.funded[currency] += cents

    @rule(brand=st.sampled_from(sorted(BRANDS)), expert=st.sampled_from(EXPERTS),
          status=st.sampled_from(["resolved", "resolved", "deflected", "escalated", "unresolved"]),
          base=st.integers(0, 5_000), rating=st.none() | st.integers(1, 5),
          response=st.none() | st.floats(0, 600))
    def resolve(self, brand: str, expert: str, status: str, base: int, rating: int | None,
                response: float | None) -> None:
        outcome = CaseOutcome(status, rating, response)
        amount = compute_reward(base, BRANDS[brand], outcome, RULES)
        if status != "resolved":
            assert amount.is_zero()
        if amount.is_zero():
            return
        case = self._next("c")
        # Budget may go negative: the reward is always owed to the expert.
        assert self.ledger.post(credit_reward(case, brand, expert, amount))
        self.cases[case] = (brand, expert, amount)
        self.earned[(expert, amount.currency)] += amount.cents

    @precondition(lambda self: bool(self.cases))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        case = data.draw(st.sampled_from(sorted(self.cases)))
        _, expert, amount = self.cases[case]
        tx = release_reward(case, expert, amount)
        if self.ledger.has(f"reverse:case:{case}"):
            before = self.ledger.balances()
            try:
                self.ledger.post(tx)
                raise AssertionError("release after reverse must be refused")
            except PreconditionFailed:
                pass
            assert self.ledger.balances() == before
        else:
            self.ledger.post(tx)  # first time True, later an idempotent no-op

    @precondition(lambda self: bool(self.cases))
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        case = data.draw(st.sampled_from(sorted(self.cases)))
        brand, expert, amount = self.cases[case]
        tx = reverse_reward(case, brand, expert, amount)
        before = self.ledger.balances()
        if self.ledger.has(f"release:case:{case}"):
            try:
                self.ledger.post(tx)
                raise AssertionError("reject after release must not claw back")
            except PreconditionFailed:
                pass
            assert self.ledger.balances() == before
        elif self.ledger.post(tx):
            self.earned[(expert, amount.currency)] -= amount.cents

    @rule(minimum=st.integers(1, 3_000))
    def payout_run(self, minimum: int) -> None:
        plans = plan_payouts(available_by_expert(self.ledger.balances()), minimum, self._next("run"))
        for plan in plans:
            assert plan.amount.cents >= minimum
            tx = start_payout(plan.payout_id, plan.expert_id, plan.amount)
            assert self.ledger.post(tx)
            self.in_flight[plan.payout_id] = tx

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data(), succeed=st.booleans())
    def payout_outcome(self, data: st.DataObject, succeed: bool) -> None:
        pid = data.draw(st.sampled_from(sorted(self.in_flight)))
        start = self.in_flight.pop(pid)
        expert = start.metadata["expert_id"]
        amount = next(e.money for e in start.entries if e.cents > 0)
        if succeed:
            tx = payout_succeeded(pid, expert, amount, external_ref="tr_x")
            self.paid[pid] = tx
        else:
            tx = payout_failed(pid, expert, amount, reason="declined")
        assert self.ledger.post(tx)
        other = payout_failed(pid, expert, amount) if succeed else payout_succeeded(pid, expert, amount)
        try:
            self.ledger.post(other)
            raise AssertionError("a payout cannot both succeed and fail")
        except PreconditionFailed:
            pass

    @precondition(lambda self: bool(self.paid))
    @rule(data=st.data())
    def transfer_reversed(self, data: st.DataObject) -> None:
        pid = data.draw(st.sampled_from(sorted(self.paid)))
        paid = self.paid.pop(pid)
        amount = next(e.money for e in paid.entries if e.cents > 0)
        tx = payout_reversed(pid, paid.metadata["expert_id"], amount, "trr1")
        assert self.ledger.post(tx)
        self.held[pid] = tx

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), repay=st.booleans())
    def decide_reversal(self, data: st.DataObject, repay: bool) -> None:
        """Reversed money is held until the operator pays it again or writes it off; never both."""
        pid = data.draw(st.sampled_from(sorted(self.held)))
        rev = self.held.pop(pid)
        expert = rev.metadata["expert_id"]
        amount = next(e.money for e in rev.entries if e.cents > 0)
        first, other = (reversal_repaid, reversal_written_off) if repay else (reversal_written_off, reversal_repaid)
        assert self.ledger.post(first(pid, expert, amount, "trr1"))
        if not repay:
            self.earned[(expert, amount.currency)] -= amount.cents
        try:
            self.ledger.post(other(pid, expert, amount, "trr1"))
            raise AssertionError("a reversal is repaid or written off, not both")
        except PreconditionFailed:
            pass

    @precondition(lambda self: bool(self.ledger.transactions))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        tx = data.draw(st.sampled_from(self.ledger.transactions))
        before = (self.ledger.balances(), len(self.ledger.transactions))
        assert self.ledger.post(tx) is False
        assert (self.ledger.balances(), len(self.ledger.transactions)) == before

    @rule(expert=st.sampled_from(EXPERTS), cents=st.integers(1, 10**6))
    def overdraw_is_refused(self, expert: str, cents: int) -> None:
        available = self.ledger.balance(f"expert:{expert}:available", "eur")
        if cents > available:
            before = self.ledger.balances()
            try:
                self.ledger.post(start_payout(self._next("bad"), expert, Money(cents, "eur")))
                raise AssertionError("overdraw accepted")
            except InsufficientFunds:
                pass
            assert self.ledger.balances() == before

    @invariant()
    def every_transaction_balances(self) -> None:
        for tx in self.ledger.transactions[-3:]:
            check_balanced(tx)

    @invariant()
    def non_negative_accounts(self) -> None:
        for (account, _), cents in self.ledger.balances().items():
            if must_stay_non_negative(account):
                assert cents >= 0, account

    @invariant()
    def money_is_conserved(self) -> None:
        totals: dict[str, int] = defaultdict(int)
        funding: dict[str, int] = defaultdict(int)
        for (account, currency), cents in self.ledger.balances().items():
            totals[currency] += cents
            if account.endswith(":funding"):
                funding[currency] += cents
        assert all(v == 0 for v in totals.values())
        for currency, cents in self.funded.items():
            assert -funding[currency] == cents

    @invariant()
    def experts_hold_exactly_what_they_earned(self) -> None:
        for expert in EXPERTS:
            for currency in ("eur", "usd"):
                held = sum(self.ledger.balance(f"expert:{expert}:{b}", currency)
                           for b in EXPERT_BUCKETS)
                assert held == self.earned[(expert, currency)]


LedgerMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestLedgerMachine = LedgerMachine.TestCase


def test_ledger_rebuilt_from_its_transactions_is_identical() -> None:
    ledger = Ledger()
    ledger.post(fund_brand("b", Money(1000, "eur"), "pi1"))
    ledger.post(credit_reward("c", "b", "e", Money(300, "eur")))
    copy = Ledger(Transaction.from_dict(tx.to_dict()) for tx in ledger.transactions)
    assert copy.balances() == ledger.balances()
    try:
        copy.post(credit_reward("c", "b", "e", Money(301, "eur")))
        raise AssertionError("conflicting replay accepted")
    except LedgerError:
        pass
