"""SQLModel tables of GigCX; every table is imported here so the metadata is complete."""
from gigcx.models.accounts import (
    AuthToken,
    Brand,
    BrandApiKey,
    Expert,
    ExpertProgram,
    StaffUser,
    Topic,
    TopicModel,
)
from gigcx.models.base import utcnow
from gigcx.models.cases import (
    Case,
    CaseStatus,
    Customer,
    ExpertConnection,
    ExpertPresence,
    Message,
    Offer,
    Rating,
    Timer,
)
from gigcx.models.ledger import (
    Funding,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutBatch,
    PayoutReversal,
    WebhookEvent,
)

__all__ = [
    "AuthToken", "Brand", "BrandApiKey", "Case", "CaseStatus", "Customer", "Expert",
    "ExpertConnection", "ExpertPresence", "ExpertProgram", "Funding", "LedgerEntry", "LedgerTransaction",
    "Message", "Offer", "Payout", "PayoutBatch", "PayoutReversal", "Rating", "StaffUser", "Timer", "Topic", "TopicModel",
    "WebhookEvent", "utcnow",
]
