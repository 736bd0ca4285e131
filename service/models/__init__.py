"""Every table of the application. Alembic's autogenerate compares migrations to this metadata."""

from .audit import AuditEvent, AuditHead
from .base import Base
from .cases import (
    NAMED_ONLY_KINDS,
    OPEN_STATUSES,
    Attachment,
    AttachmentChunk,
    Author,
    Case,
    CaseKeyWrap,
    CaseKind,
    CaseStatus,
    KeyPurpose,
    Message,
    MessageKind,
    Priority,
    ReferenceCounter,
    Track,
)
from .org import Account, Body, BodyKind, Organisation, Role, SummaryRecipient
from .outbox import MailRun, OutboxMessage, OutboxStatus
from .publication import Publication, PublicationStatus
from .rules import (
    Category,
    ClockStart,
    DayUnit,
    DeadlineRule,
    DeadlineStage,
    RetentionPeriod,
    RoutingRule,
)
from .sessions import ReporterSession, StaffSession
from .staff import Invitation, InvitationPurpose, RecoveryCode

__all__ = [
    "NAMED_ONLY_KINDS",
    "OPEN_STATUSES",
    "Account",
    "Attachment",
    "AttachmentChunk",
    "AuditEvent",
    "AuditHead",
    "Author",
    "Base",
    "Body",
    "BodyKind",
    "Case",
    "CaseKeyWrap",
    "CaseKind",
    "CaseStatus",
    "Category",
    "ClockStart",
    "DayUnit",
    "DeadlineRule",
    "DeadlineStage",
    "Invitation",
    "InvitationPurpose",
    "KeyPurpose",
    "MailRun",
    "Message",
    "MessageKind",
    "Organisation",
    "OutboxMessage",
    "OutboxStatus",
    "Priority",
    "Publication",
    "PublicationStatus",
    "RecoveryCode",
    "ReferenceCounter",
    "ReporterSession",
    "RetentionPeriod",
    "Role",
    "RoutingRule",
    "StaffSession",
    "SummaryRecipient",
    "Track",
]
