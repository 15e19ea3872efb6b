"""SQLAlchemy 2.0 typed models. The schema itself is made by the Alembic migrations beside this file.

Times are stored in UTC. ``licenses`` keeps every version (history): a row is one version, ``is_current`` marks
the newest of a license, and a license number is unique per type among current versions (a CANCELLED or REVOKED
license stops being current when a new license takes its number). ``license_events`` is
the change log: its ``seq`` and ``tag`` make the watch cursor, and ``(actor, request_id)`` makes every write
idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class MemberRow(Base):
    __tablename__ = "members"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(6))
    roles: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    cert_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_cert_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The client certificate before ``cert_sha256``, accepted as the member's too while a renewal overlaps (``zzgw
    members --renew``), until ``--retire`` or ``--revoke`` takes it, or it ends."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """Set by ``zzgw members --revoke``: no credential is registered for the member until it is restored."""


class LicenseRow(Base):
    __tablename__ = "licenses"
    __table_args__ = (
        Index(
            "uq_licenses_current_number",
            "type_code",
            "license_number",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
        Index(
            "ix_licenses_retired_number",
            "type_code",
            "license_number",
            sqlite_where=text("NOT is_current"),
            postgresql_where=text("NOT is_current"),
        ),
        Index("ix_licenses_holder", "holder_code_type", "holder_code"),
        Index("ix_licenses_serial", "issuer_code", "type_code", "serial"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    license_id: Mapped[str] = mapped_column(String(120), unique=True)
    serial: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    type_code: Mapped[str] = mapped_column(String(21))
    issuer_code: Mapped[str] = mapped_column(String(18))
    license_number: Mapped[str] = mapped_column(String(64))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_code_type: Mapped[str] = mapped_column(String(3))
    holder_code: Mapped[str] = mapped_column(String(32))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    region_code: Mapped[str] = mapped_column(String(6))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    is_current: Mapped[bool] = mapped_column(Boolean)
    supersedes: Mapped[str] = mapped_column(String(120), default="")
    superseded_by: Mapped[str] = mapped_column(String(120), default="")
    seal_algorithm: Mapped[str] = mapped_column(String(32))
    seal_key_id: Mapped[str] = mapped_column(String(64))
    seal_encoding: Mapped[str] = mapped_column(String(32))
    seal_signature: Mapped[bytes] = mapped_column(LargeBinary)
    seal_digest: Mapped[bytes] = mapped_column(LargeBinary)
    seal_memo: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''"))
    status_memo: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''"))


class LicenseEventRow(Base):
    __tablename__ = "license_events"
    __table_args__ = (
        UniqueConstraint("actor", "request_id", name="uq_license_events_request"),
        Index("ix_license_events_license", "license_id"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    license_id: Mapped[str] = mapped_column(String(120))
    type_code: Mapped[str] = mapped_column(String(21))
    issuer_code: Mapped[str] = mapped_column(String(18))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    previous_license_id: Mapped[str] = mapped_column(String(120), default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(18))
    request_id: Mapped[str | None] = mapped_column(String(64))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    tag: Mapped[str] = mapped_column(String(16), server_default="")
    """Random, written with the event and never changed; with ``seq`` it makes the event's cursor
    (``gateway.domain.model.ChangeCursor``). Empty for the events stored before schema 0030."""
    form: Mapped[str] = mapped_column(String(64), server_default="")
    """An issue whose document is drawn later (a batch's): the SHA-256 of its type's printed form then
    (``PrintedFormRow``), which the document is drawn from. Empty for the others, and the issues before schema 0033."""
    form_memo: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''"))
    """The gateway's memo of ``form`` for this license (``signing.record.SealMemos.form``): a form the gateway did not
    record for it is not drawn. Empty where ``form`` is, and for the forms recorded before schema 0034."""


class PrintedFormRow(Base):
    """A license type's printed form (``gateway.domain.printed_form``) as licenses were issued under it, by the
    SHA-256 of its canonical JSON: written once, never changed."""

    __tablename__ = "printed_forms"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    form: Mapped[str] = mapped_column(Text)


class SealRow(Base):
    """An electronic seal (电子印章) of an issuer: its certificate from the seal-maker CA, key reference and image."""

    __tablename__ = "seals"
    __table_args__ = (
        UniqueConstraint("issuer_code", "request_id", name="uq_seals_request"),
        Index("ix_seals_issuer", "issuer_code"),
        Index("ix_seals_key", "key_id"),
    )

    seal_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    issuer_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(40))
    algorithm: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    key_ref: Mapped[str] = mapped_column(String(200))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_serial: Mapped[str] = mapped_column(String(64), unique=True)
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revocation_reason: Mapped[str] = mapped_column(String(500), default="")
    crl_reason: Mapped[str] = mapped_column(String(32), default="")
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ses_seal: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The GB/T 38540 SES_Seal (DER) of an SM2 seal, made by the SM2 seal maker; None for other seals."""


class DocumentRow(Base):
    """The sealed PDF of one license version (电子证照版式文件): rendered from the template or sent by the issuer."""

    __tablename__ = "license_documents"
    __table_args__ = (Index("ix_license_documents_sha256", "sha256"),)

    license_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(16))
    seal_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    memo: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''"))
    printed: Mapped[str] = mapped_column(Text, server_default="")
    """The keys of the fields a document the gateway drew prints, as a JSON list; empty for a supplied document and
    those stored before schema 0034 (what they print is not known)."""


class ReceiptRow(Base):
    """A verification receipt (核验回执): the signed statement of one verification, kept for later matters."""

    __tablename__ = "receipts"

    receipt_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    statement: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    proof: Mapped[bytes] = mapped_column(LargeBinary, server_default=text("''"))
    """The receipt's place in its signed batch (``signing.receipts``); empty for receipts signed one by one."""
    algorithm: Mapped[str] = mapped_column(String(32))
    caller: Mapped[str] = mapped_column(String(18))
    matter_code: Mapped[str] = mapped_column(String(40))
    license_id: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    bundle_code: Mapped[str] = mapped_column(String(40), server_default="")
    case_id: Mapped[str] = mapped_column(String(64), server_default="")
    seq: Mapped[int | None] = mapped_column(BigId)
    """The ``seq`` of the access record stored with it, in the same group commit under the audit chain's lock: the
    order receipts were committed in, by which a case's receipts are paged (``created_at`` is the check's time, taken
    before a slow check committed). None for receipts stored before schema 0035, and without an audit trail."""

    __table_args__ = (
        # the order a case's receipts are listed in (``ReceiptRepository.of_case``), so that each read of a case goes
        # on in the index from where the last stopped: with none on ``seq``, each read had read and sorted the whole
        # case (a page of a case of 100,000 receipts read past took 6-17 s: a reviewer). NULLS FIRST (those stored
        # before 0035 are listed first) is SQLite's ascending order, and SQLite takes it in no index: migration 0036
        # makes SQLite's without it
        Index(
            "ix_receipts_case_order",
            "bundle_code",
            "case_id",
            seq.nulls_first(),
            "created_at",
            "receipt_id",
        ),
    )


class AccessRecordRow(Base):
    """The audit trail (用证记录): one row per answered use, numbered without gaps and hash-chained."""

    __tablename__ = "access_records"
    __table_args__ = (
        Index("ix_access_records_holder", "holder_code", "seq"),
        Index("ix_access_records_issuer", "issuer_code", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    caller: Mapped[str] = mapped_column(String(18))
    operator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    matter_code: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(200))
    license_id: Mapped[str] = mapped_column(String(120))
    issuer_code: Mapped[str] = mapped_column(String(18))
    holder_code: Mapped[str] = mapped_column(String(40))
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    """Why, as a stable code, or what the record names (``consent=ID;approval=ID1,ID2``); 64 characters before schema
    0041."""
    receipt_id: Mapped[str] = mapped_column(String(32))
    seal_id: Mapped[str] = mapped_column(String(32), server_default="")
    """A record of a seal's use, registration or revocation (``SEAL_CALLS``): the seal. Empty on every other record,
    and on those stored before schema 0038."""
    document_sha256: Mapped[str] = mapped_column(String(64), server_default="")
    """A seal's use: the SHA-256 (hex) of the document sent to be sealed or stamped; never the document."""
    result_sha256: Mapped[str] = mapped_column(String(64), server_default="")
    """A seal's use answered: the SHA-256 (hex) of what was returned (the sealed PDF, the stamp)."""
    by_guardian: Mapped[bool] = mapped_column(Boolean, server_default=false())
    """A refused use whose reason is about a consent a parent granted for the holder (``AuditEntry.by_guardian``):
    said in the guardian's words. False on every other record, and on those stored before schema 0043."""
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AccessRecordSubjectRow(Base):
    """A co-subject an access record names (``AuditEntry.subjects``): a person other than the holder whose
    公民身份号码 the license used states. Keyed by the person first, so that the records naming one are an index
    range, newest first; by ``seq`` too, for the chain's check (a page of records at a time) and for pruning."""

    __tablename__ = "access_record_subjects"
    __table_args__ = (Index("ix_access_record_subjects_seq", "seq"),)

    subject_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


class AuditCheckpointRow(Base):
    """A signed statement of the audit chain's hash at one record."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    algorithm: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditHeadRow(Base):
    """The audit chain's newest record as the gateway last appended it, with the gateway's memo of it (one row,
    ``id`` 1; ``gateway.domain.audit.HeadMemo``): a chain that ends before it was cut short."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigId)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    memo: Mapped[bytes] = mapped_column(LargeBinary)


class AccessRequestRow(Base):
    """A consumer's request for conditional data (有条件共享申请): in the owning issuer's queue until decided or
    expired."""

    __tablename__ = "access_requests"
    __table_args__ = (
        Index("ix_access_requests_issuer", "issuer_code", "seq"),
        Index("ix_access_requests_requester", "requester", "matter_code"),
        # a consumer's own requests, newest first (the SUBMITTED view), a page from where the last ended: without it,
        # every page read and sorted all the requests the consumer ever made (a reviewer, R2; migration 0037)
        Index("ix_access_requests_requester_seq", "requester", "seq"),
        Index("ix_access_requests_pending", "state", "deadline"),
        Index(
            "ux_access_requests_client",
            "requester",
            "client_request_id",
            unique=True,
            sqlite_where=text("client_request_id <> ''"),
            postgresql_where=text("client_request_id <> ''"),
        ),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(32), unique=True)
    requester: Mapped[str] = mapped_column(String(18))
    issuer_code: Mapped[str] = mapped_column(String(18))
    type_code: Mapped[str] = mapped_column(String(21))
    license_id: Mapped[str] = mapped_column(String(120))
    matter_code: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON)
    duration_days: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    approved_fields: Mapped[list[str]] = mapped_column(JSON)
    approved_full_fields: Mapped[list[str] | None] = mapped_column(JSON)
    """Those of ``approved_fields`` the matter's material showed unmasked (named in ``full_fields``) when they were
    approved (migration 0040); NULL for a request not approved, and for an approval given before that the upgrade
    could not record."""
    valid_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str] = mapped_column(String(500))
    client_request_id: Mapped[str] = mapped_column(String(64), server_default="")
    """The requester's idempotency key, empty when none was given."""
    client_digest: Mapped[str] = mapped_column(String(64), server_default="")
    """SHA-256 of what was asked with that key, to tell a retry from another request."""


class ConsentRow(Base):
    """A holder's consent (授权 / 用证码). Only the SHA-256 of the code is kept: the code itself is shown once, but to
    a retry of its grant (``client_request_id``) within a day, for which it is kept encrypted (``code_sealed``)."""

    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_holder", "holder_code", "created_at"),
        Index("ix_consents_guardian", "guardian_code", "created_at"),
        Index(
            "ux_consents_client",
            "portal",
            "client_request_id",
            unique=True,
            sqlite_where=text("client_request_id <> ''"),
            postgresql_where=text("client_request_id <> ''"),
        ),
        Index(
            "ix_consents_code_sealed",
            "created_at",
            sqlite_where=text("code_sealed IS NOT NULL"),
            postgresql_where=text("code_sealed IS NOT NULL"),
        ),
    )

    consent_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    holder_code: Mapped[str] = mapped_column(String(32))
    portal: Mapped[str] = mapped_column(String(18))
    grantee: Mapped[str] = mapped_column(String(18))
    matter_code: Mapped[str] = mapped_column(String(40))
    license_ids: Mapped[list[str]] = mapped_column(JSON)
    type_codes: Mapped[list[str]] = mapped_column(JSON)
    valid_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    uses_allowed: Mapped[int] = mapped_column(Integer)
    uses_left: Mapped[int] = mapped_column(Integer)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str] = mapped_column(String(32), server_default="")
    """Who withdrew it, by code: the holder's (``holder_code``) or the granting parent's (``guardian_code``), either
    of whom may (migration 0044); empty while it is not withdrawn, and for one withdrawn before 0044."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    guardian_code: Mapped[str] = mapped_column(String(32), server_default="")
    """The 公民身份号码 of the parent who granted it for a minor holder (监护人代为授权); empty when the holder did."""
    client_request_id: Mapped[str] = mapped_column(String(64), server_default="")
    client_digest: Mapped[str] = mapped_column(String(64), server_default="")
    code_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The code, encrypted under the key store's secret (``gateway.services.authorization.CodeSealer``), for a retry
    of the grant with its ``client_request_id``; cleared a day after the grant."""
    granted_fields: Mapped[dict[str, dict[str, list[str]]] | None] = mapped_column(JSON)
    """What it was granted for, by license type: ``{"fields": [...], "full_fields": [...]}``, the material's
    conditional fields at the grant and those read in full (migration 0039); NULL for one granted before that the
    upgrade could not record."""


class GatewayFactRow(Base):
    """A fingerprint of an authority the store was made with (memo secret, seal-maker CA, member CA), or of the catalog
    its gateways serve (``catalog``, ADR 0013): every gateway process on the store must hold the same
    (``gateway.server``)."""

    __tablename__ = "gateway_facts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class ReceiptCertificateRow(Base):
    """A certificate the gateway's receipt key has had: stored receipts and audit checkpoints are handed out and
    checked with the one whose key signed them, also after the key or its certificate changed."""

    __tablename__ = "receipt_certificates"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the certificate, hex: a renewal keeps the key, so the key's id does not tell certificates apart."""
    key_id: Mapped[str] = mapped_column(String(64))
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ConsoleClerkRow(Base):
    """A clerk's own token for the console (``zzgw console-token USCC --clerk NAME``): signed in with it, the clerk
    is the operator of every access record, named by the gateway, not typed. A new token for the same clerk, or
    ending it, sets ``ended_at``."""

    __tablename__ = "console_clerks"
    __table_args__ = (Index("ix_console_clerks_member", "member_code", "clerk"),)

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_code: Mapped[str] = mapped_column(String(18))
    clerk: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WrongClaimRow(Base):
    """A claim (``CheckClaim``) a department made about a license that was wrong (7, 信息有误): counted to bound how
    many a department may make about one license in a day (``VerificationService``), not a record of the use, which
    the audit trail keeps. ``license`` is the license whatever its version (type, issuer and serial of its
    identifier): an amendment does not start the count again."""

    __tablename__ = "wrong_claims"
    __table_args__ = (Index("ix_wrong_claims_caller_license", "caller", "license", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    caller: Mapped[str] = mapped_column(String(18))
    license: Mapped[str] = mapped_column(String(120))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class StoreEditRow(Base):
    """SQLite: a license or a seal changed, by anyone (the triggers of migration 0020 write the row in the changing
    transaction); every gateway process reads the new rows to drop the key from its caches, and old rows are pruned
    (``gateway.store.changes``). On PostgreSQL the triggers NOTIFY instead and the table stays empty."""

    __tablename__ = "store_edits"
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    """``license:<license_id>`` or ``seal:<key_id>``."""
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.current_timestamp())
