"""Every table of the application. Alembic's autogenerate compares migrations to this metadata."""

from .audit import AuditEvent, AuditHead
from .base import Base
from .cases import (
    NAMED_ONLY_KINDS,
    Attachment,
    AttachmentChunk,
    Author,
    Case,
    CaseKeyWrap,
    CaseKind,
    CaseStatus,
    KeyPurpose,
    Message,
    ReferenceCounter,
    Track,
)
from .org import Account, Body, BodyKind, Organisation, Role
from .outbox import OutboxMessage, OutboxStatus
from .sessions import ReporterSession, StaffSession

__all__ = [
    "NAMED_ONLY_KINDS",
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
    "KeyPurpose",
    "Message",
    "Organisation",
    "OutboxMessage",
    "OutboxStatus",
    "ReferenceCounter",
    "ReporterSession",
    "Role",
    "StaffSession",
    "Track",
]
