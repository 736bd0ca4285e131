"""Every table of the application. Alembic's autogenerate compares migrations to this metadata."""

from service.models.audit import AuditEvent, AuditHead
from service.models.base import Base
from service.models.cases import (
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
from service.models.org import Account, Body, BodyKind, Organisation, Role, SummaryRecipient
from service.models.outbox import MailRun, OutboxMessage, OutboxStatus
from service.models.publication import Publication, PublicationStatus
from service.models.rules import (
    Category,
    ClockStart,
    DayUnit,
    DeadlineRule,
    DeadlineStage,
    RetentionPeriod,
    RoutingRule,
)
from service.models.sessions import ReporterSession, SpentFormToken, StaffSession
from service.models.staff import Invitation, InvitationPurpose, RecoveryCode

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
    "SpentFormToken",
    "StaffSession",
    "SummaryRecipient",
    "Track",
]
