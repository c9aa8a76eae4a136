"""Money of cases, by concern: `rewards`, `reviews`, `budget` and `earnings_views`.

This module keeps the names other parts of the app import (`earnings.credit_resolved_case`,
`earnings.review`, `earnings.may_route`, ...); the code lives in the modules above.
"""
from gigcx.services.budget import (
    budget_cents,
    check_currency_change,
    exposure_cents,
    may_route,
    policy_for,
)
from gigcx.services.earnings_views import brand_statement, earnings_view, payout_view
from gigcx.services.reviews import available_at, review, review_view, reward_status
from gigcx.services.rewards import (
    CREDIT_KINDS,
    KIND_BONUS,
    REVIEW_TIMER,
    apply_rating_bonus,
    breakdown,
    credit_resolved_case,
    credited,
    first_response_seconds,
    outcome,
    release_case,
    rules_for,
    topic_reward,
)

__all__ = [
    "budget_cents", "check_currency_change", "exposure_cents", "may_route", "policy_for",
    "brand_statement", "earnings_view", "payout_view",
    "available_at", "review", "review_view", "reward_status",
    "CREDIT_KINDS", "KIND_BONUS", "REVIEW_TIMER", "apply_rating_bonus", "breakdown", "credit_resolved_case",
    "credited", "first_response_seconds", "outcome", "release_case", "rules_for", "topic_reward",
]
