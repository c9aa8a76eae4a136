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
    ReusableAnswer,
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
from gigcx.models.notify import (
    NotificationSettings,
    OutboundEmail,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from gigcx.models.trust import ClientSeen, ExpertQuality, TrustDecision, TrustFlag

__all__ = [
    "AuthToken", "Brand", "BrandApiKey", "Case", "CaseStatus", "ClientSeen", "Customer", "Expert",
    "ExpertQuality", "TrustDecision", "TrustFlag",
    "ExpertConnection", "ExpertPresence", "ExpertProgram", "Funding", "LedgerEntry", "LedgerTransaction",
    "Message", "Offer", "Payout", "PayoutBatch", "PayoutReversal", "Rating", "ReusableAnswer", "StaffUser", "Timer",
    "Topic", "TopicModel",
    "WebhookEvent", "utcnow",
    "NotificationSettings", "OutboundEmail", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint",
]
