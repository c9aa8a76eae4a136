"""GigCX payouts: pure money, rewards, double-entry ledger, budget policy and payout planning."""

from .accounts import (
                       AccountNameError,
                       brand_budget,
                       brand_funding,
                       expert_available,
                       expert_in_transit,
                       expert_paid,
                       expert_pending,
                       must_stay_non_negative,
                       parse_account,
)
from .budget import (
                       BudgetPolicy,
                       budget_state,
                       can_route_case,
                       headroom_cents,
                       is_over_credit_limit,
                       max_case_reward_cents,
                       owed_by_brand_cents,
)
from .ledger import (
                       Entry,
                       IdempotencyConflict,
                       InsufficientFunds,
                       Ledger,
                       LedgerError,
                       PreconditionFailed,
                       Transaction,
                       UnbalancedTransaction,
                       balances,
                       check_balanced,
                       check_post,
                       preconditions,
)
from .manual import MANUAL_STATUS, ManualGateway, ManualPayout
from .money import CurrencyMismatch, Money, normalize_currency, sum_money
from .planning import PlannedPayout, available_by_expert, plan_payouts
from .rewards import (
                       CaseOutcome,
                       FastResponseBonus,
                       RatingBonus,
                       RewardLine,
                       RewardRules,
                       RuleError,
                       compute_reward,
                       reward_breakdown,
                       rule_from_dict,
)
from .statements import MANUAL_MARKER, render_statement, statement_total
from .transactions import (
                       credit_reward,
                       fund_brand,
                       payout_failed,
                       payout_key,
                       payout_reversed,
                       payout_succeeded,
                       release_key,
                       release_reward,
                       reverse_key,
                       reverse_reward,
                       reward_key,
                       start_payout,
)

__all__ = [
    "AccountNameError", "brand_budget", "brand_funding", "expert_available", "expert_in_transit",
    "expert_paid", "expert_pending", "must_stay_non_negative", "parse_account",
    "BudgetPolicy", "budget_state", "can_route_case", "headroom_cents", "is_over_credit_limit",
    "max_case_reward_cents", "owed_by_brand_cents",
    "Entry", "IdempotencyConflict", "InsufficientFunds", "Ledger", "LedgerError",
    "PreconditionFailed", "Transaction", "UnbalancedTransaction", "balances", "check_balanced",
    "check_post", "preconditions",
    "MANUAL_STATUS", "ManualGateway", "ManualPayout",
    "CurrencyMismatch", "Money", "normalize_currency", "sum_money",
    "PlannedPayout", "available_by_expert", "plan_payouts",
    "CaseOutcome", "FastResponseBonus", "RatingBonus", "RewardLine", "RewardRules", "RuleError",
    "compute_reward", "reward_breakdown", "rule_from_dict",
    "MANUAL_MARKER", "render_statement", "statement_total",
    "credit_reward", "fund_brand", "payout_failed", "payout_key", "payout_reversed",
    "payout_succeeded", "release_key", "release_reward", "reverse_key", "reverse_reward",
    "reward_key", "start_payout",
]
