"""SQLModel tables of GigCX; every table is imported here so the metadata is complete."""
from gigcx.models.accounts import (
    AuthToken,
    Brand,
    BrandApiKey,
    Expert,
    ExpertProgram,
    ProgramStatus,
    StaffRole,
    StaffUser,
    TokenKind,
    Topic,
    TopicModel,
)
from gigcx.models.base import utcnow
from gigcx.models.cases import (
    BUSY_STATUSES,
    OPEN_STATUSES,
    AnswerStatus,
    Case,
    CaseStatus,
    Customer,
    ExpertConnection,
    ExpertPresence,
    Message,
    Offer,
    OfferStatus,
    Rating,
    ReusableAnswer,
    Sender,
    Timer,
    TimerKind,
)
from gigcx.models.ledger import (
    Funding,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutBatch,
    PayoutReversal,
    PayoutStatus,
    WebhookEvent,
)
from gigcx.models.notify import (
    DeliveryStatus,
    EmailStatus,
    EndpointKind,
    EndpointStatus,
    NotificationSettings,
    OutboundEmail,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from gigcx.models.trust import ClientSeen, ExpertQuality, HoldState, TopicRatings, TrustDecision, TrustFlag

__all__ = [
    "AuthToken", "Brand", "BrandApiKey", "Case", "CaseStatus", "ClientSeen", "Customer", "Expert",
    "ExpertQuality", "TopicRatings", "TrustDecision", "TrustFlag",
    "ExpertConnection", "ExpertPresence", "ExpertProgram", "Funding", "LedgerEntry", "LedgerTransaction",
    "Message", "Offer", "Payout", "PayoutBatch", "PayoutReversal", "Rating", "ReusableAnswer", "StaffUser", "Timer",
    "Topic", "TopicModel",
    "WebhookEvent", "utcnow",
    "NotificationSettings", "OutboundEmail", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint",
    # statuses and kinds, stored and sent as their exact string values
    "BUSY_STATUSES", "OPEN_STATUSES", "AnswerStatus", "DeliveryStatus", "EmailStatus", "EndpointKind",
    "EndpointStatus", "HoldState", "OfferStatus", "PayoutStatus", "ProgramStatus", "Sender", "StaffRole",
    "TimerKind", "TokenKind",
]
