"""Rewards for resolved cases (filled in with the payouts ledger)."""
from __future__ import annotations

from sqlmodel import Session

from gigcx.models import Case


def credit_resolved_case(session: Session, case: Case) -> None:
    """Credit the topic's reward to the expert as pending."""


def apply_rating_bonus(session: Session, case: Case, csat: int) -> None:
    """Credit the brand's rating bonus, if any."""
