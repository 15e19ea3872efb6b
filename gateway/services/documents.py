"""License documents (电子证照版式文件): the sealed PDF of each license version, made once and kept.

A document is made in one of two ways. When the issuer sends a PDF with the license, that PDF is sealed as it is.
Otherwise the gateway draws the license from its type's template (``signing.render``), with a ``ZZ1:`` verification
code signed by the same seal, and seals it in ``SEAL_BOX``. Either way the seal is the issuer's current seal, the
seal is PAdES B-T (with a timestamp), and the result is stored with its SHA-256, by which ``VerifyDocument`` finds
a PDF that an applicant hands over.

``IssueLicense`` and ``AmendLicense`` make the document before the license is committed and commit both together, so
a license never exists with a half-made document, and a TSA that is down fails the call (UNAVAILABLE) with nothing
written. Batch issuance does not draw documents (drawing and sealing one takes ~80 ms, forty times the cost of
issuing the record); a batch-issued license's document is made the first time it is asked for and kept from then
on (see docs/adr/0003-license-documents.md), drawn from its type's printed form as it was issued (``PrintedForm``,
stored with its issue), not as the catalog may have it by then.
"""

from __future__ import annotations

import hashlib
import unicodedata

from sqlalchemy.exc import IntegrityError

from gateway.domain.catalog import Catalog, FieldSpec, LicenseType, Sensitivity
from gateway.domain.errors import (
    ConflictError,
    FieldViolation,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from gateway.domain.model import Clock, License, LicenseContent, Member
from gateway.domain.pdf_refusals import pdf_refusal
from gateway.domain.printed_form import PrintedForm, form_digest
from gateway.domain.seals import DocumentSource, LicenseDocument, SealStatus, revoked_while_sealing
from gateway.services.seals import SealService
from gateway.store.database import Database
from signing.pdf import (
    MAX_SUPPLIED_REVISIONS,
    PdfError,
    PdfTooComplex,
    TooManyRevisions,
    provenance,
    revisions,
    validate_sync,
    without_padding,
)
from signing.qr import QrClaims, encode_qr
from signing.record import SealMemos
from signing.render import SEAL_BOX, DoesNotFit, fits, printed_weight, render_license_pdf, unprintable
from signing.results import CheckResult

ISSUE_REASON = "电子证照签发"
_MAX_ID_LENGTH = 128  # a subject longer than any license identifier is looked up as none


class DocumentService:
    def __init__(
        self, db: Database, catalog: Catalog, seals: SealService, clock: Clock, *, memos: SealMemos | None = None
    ):
        """``memos``: the gateway's memos, to vouch for which license each document it makes is (none: no memo)."""
        self._db = db
        self._catalog = catalog
        self._seals = seals
        self._clock = clock
        self._memos = memos

    def check_printable(self, content: LicenseContent, *, amendment: bool = False) -> None:
        """InvalidRequestError, before anything is stored, when ``content``'s document could not be drawn as it reads:
        a value with letters or marks no font of the document draws (``unprintable``: each would be printed as 〓, a
        Uyghur, Mongolian or Tibetan address a row of them, a Thai one a 〓 in each word, silently), each such value
        named; or a printed form that would
        not fit on one page (its longest value named). A batch-issued license's document is drawn later and must
        then succeed. Checked only for a document the gateway draws: an issuer's own PDF prints what it prints.
        ``amendment``: an AmendLicense's, whose document is always drawn (no PDF can be sent with it)."""
        license_type = self._catalog.license_type(content.type_code)
        printed = _printed_values(content, license_type)
        violations = [
            _unprintable(field, missing, amendment=amendment)
            for (field, _), missing in zip(printed, unprintable([value for _, value in printed]), strict=True)
            if missing
        ]
        if not fits(content, license_type):
            violations.append(_too_long(content))
        if violations:
            raise InvalidRequestError(violations)

    def require_seal(self, issuer_code: str) -> None:
        """ConflictError (``NO_ACTIVE_SEAL``, or the seal's own refusal) when the issuer has no seal that can seal its
        documents (an ECDSA or RSA one), as ``make`` would be: a batch, whose documents are drawn when first asked
        for, had stored licenses of an issuer whose only active seal is SM2 that IssueLicense refused, each without a
        document until an ECDSA or RSA seal was registered (a reviewer, R3)."""
        self._seals.current(issuer_code, for_pdf=True)

    def make(
        self,
        issuer: Member,
        content: LicenseContent,
        supplied: bytes | None = None,
        *,
        form: PrintedForm | None = None,
    ) -> LicenseDocument:
        """Seal ``supplied``, or draw and seal ``content``, with the issuer's current seal; nothing is stored. Drawn
        on ``form`` (its type as the license was issued), else on its type as the catalog has it."""
        seal = self._seals.current(issuer.code, for_pdf=True)
        printed: frozenset[str] | None = None
        if supplied:
            supplied = without_padding(supplied)  # what a transfer appended after the end is no part of the document
            self._seals.check_size(supplied, field="document")
            _check_revisions(supplied)
            self._check_not_registered(content.license_id, supplied)
            pdf = self._seals.apply(seal, supplied, reason=ISSUE_REASON, field="document")
            self._seals.check_sealed_size(supplied, pdf, field="document")
            _check_verifies(pdf, self._seals)
            source = DocumentSource.SUPPLIED
        else:
            now = self._clock.now()
            qr = encode_qr(self._seals.key(seal), QrClaims.of(content, issued_at=now))
            template = self._template(content, form)
            printed = printed_keys(template)
            try:
                drawn = render_license_pdf(
                    content,
                    template,
                    issuer_name=issuer.name,
                    qr_text=qr,
                    drawn_at=now,
                )
            except DoesNotFit as exc:  # a license stored before issuing checked it (``check_printable``)
                raise ConflictError(
                    f"证照版式文件排不进一页，无法生成（the license's printed form cannot be drawn: {exc}）",
                    reason="DOES_NOT_FIT",
                ) from exc
            pdf = self._seals.apply(seal, drawn, reason=ISSUE_REASON, box=SEAL_BOX)
            source = DocumentSource.RENDERED
        sha256, made = hashlib.sha256(pdf).hexdigest(), self._clock.now()
        memo = self._memos.document(content.license_id, sha256, seal.seal_id, made, printed) if self._memos else b""
        return LicenseDocument(
            license_id=content.license_id,
            pdf=pdf,
            sha256=sha256,
            source=source,
            seal_id=seal.seal_id,
            created_at=made,
            memo=memo,
            printed=printed,
        )

    def printed(self, license: License) -> frozenset[str] | None:
        """The keys of the fields ``license``'s document prints: its stored document's (None when not known: one the
        issuer supplied, or one stored before schema 0034), else those of the document drawing it now would print.
        Sharing judges a consumer's permit against these, not against the fields the license holds (one SECRET when
        the license was issued, or taken out of its type before a license without a recorded form was drawn, is
        not printed)."""
        with self._db.unit_of_work() as uow:
            stored = uow.documents.get(license.license_id)
            recorded = uow.documents.form_of(license.license_id) if stored is None else None
        if stored is not None:
            return stored.printed if vouched(stored, self._memos) else None
        try:
            return printed_keys(self._template(license.content, self._form(license, recorded)))
        except ConflictError:  # it cannot be drawn: the drawing says why, to the caller the policy lets have it
            return None

    def get(self, caller: Member, license: License) -> LicenseDocument:
        """The document of ``license`` for its issuer, made now if it was never made. One that prints a field the
        catalog has made SECRET since it was drawn is refused (``DOCUMENT_PRINTS_SECRET``), as sharing refuses it
        (``printed_secrets``): no issuance reply carries a SECRET field's value, and ``GetLicense`` leaves it out; the
        issuer amends the license to have a document drawn without it (docs/adr/0003-license-documents.md)."""
        if caller.code != license.content.issuer_code:
            raise PermissionDeniedError(
                "只有发证部门可以获取证照的版式文件（only the license's issuer may fetch its document）",
                reason="NOT_ISSUER",
            )
        document = self.document(license)
        license_type = self._catalog.license_types.get(license.content.type_code)
        if license_type is not None and (secret := printed_secrets(license.content, license_type, document.printed)):
            labels, keys = "、".join(spec.label for spec in secret), ", ".join(spec.key for spec in secret)
            raise ConflictError(
                f"该证照的版式文件印有证照目录现已列为保密（SECRET）、不对外提供的信息项：{labels}，不再提供；请变更证照（AmendLicense，"
                f"如填写新的发证日期），以生成不含该项的版式文件（the license's document prints "
                f"{keys}, which the catalog has made SECRET since it was drawn: it is not given out any "
                "more. Amend the license (AmendLicense, e.g. with a new issue_date) to have a document drawn without "
                "it）",
                reason="DOCUMENT_PRINTS_SECRET",
            )
        return document

    def document(self, license: License) -> LicenseDocument:
        """The stored document of ``license``, made now (drawn, sealed, kept) if it was never made. No access check:
        callers check access first (``get`` for issuers, the sharing policy for consumers)."""
        with self._db.unit_of_work() as uow:
            stored = uow.documents.get(license.license_id)
            issuer = uow.members.get(license.content.issuer_code) if stored is None else None
            recorded = uow.documents.form_of(license.license_id) if stored is None else None
        if stored is not None:
            return self._as_stored(stored)
        form = self._form(license, recorded)
        if issuer is None:
            raise NotFoundError(
                "该证照的发证部门已不是网关成员（the license's issuer is not a member any more）",
                reason="ISSUER_NOT_FOUND",
            )
        for attempt in (1, 2):
            document = self.make(issuer, license.content, form=form)
            try:
                with self._db.unit_of_work(write=True) as uow:
                    # its seal held until the commit (FOR SHARE), as for an issue: one revoked meanwhile, perhaps
                    # through another process, would have its PDF stored for good, failing VerifyDocument
                    held = uow.seals.held(seal_ids=[document.seal_id])
                    if (seal := next((s for s in held if s.status is not SealStatus.ACTIVE), None)) is not None:
                        if attempt == 2:
                            raise revoked_while_sealing(seal.seal_id, seal.name)
                        continue  # nothing stored: made again, with the issuer's seal current now
                    uow.documents.add(document)
                    uow.commit()
            except IntegrityError:
                # another call made it first: keep one document per version, the first one stored
                with self._db.unit_of_work() as uow:
                    first = uow.documents.get(license.license_id)
                assert first is not None
                return self._as_stored(first)
            return document
        raise AssertionError("unreachable")

    def _form(self, license: License, recorded: tuple[str, str | None, bytes] | None) -> PrintedForm | None:
        """The printed form a license's issue recorded (its SHA-256, its text as stored, the gateway's memo of it), if
        it recorded one. A form the gateway did not record for this license (no memo of it, ADR 0009), whose text no
        longer has the recorded hash, that does not read as a form, or that is another type's is not drawn on, nor
        the catalog's instead: a form written into the store under its own hash had been drawn and sealed as the
        license's document, with any title and labels (a reviewer)."""
        if recorded is None:
            return None
        sha256, text, memo = recorded
        altered = ConflictError(
            "库中该证照签发时的版式样式被绕过网关改动过，无法生成版式文件（the registry's record of the form this "
            "license was issued to be drawn on was changed behind the gateway's back: its document cannot be drawn）",
            reason="REGISTRY_ALTERED",
        )
        if self._memos is not None and not self._memos.vouches_form(license.license_id, sha256, memo):
            raise altered
        if text is None or form_digest(text) != sha256:
            raise altered
        try:
            form = PrintedForm.from_json(text)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # json.JSONDecodeError is a ValueError
            raise altered from exc
        if form.code != license.content.type_code:
            raise altered
        return form

    def _template(self, content: LicenseContent, form: PrintedForm | None) -> LicenseType | PrintedForm:
        """What ``content`` is drawn on: ``form``, the fields the catalog makes SECRET now left off all the same (a
        value it keeps in the gateway is not printed for the first time now), else its type as the catalog has it. A
        license issued before the gateway kept forms, whose type the catalog no longer has, cannot be drawn: said so,
        not as a type code to correct (the issuer had been told to write one the catalog has)."""
        license_type = self._catalog.license_types.get(content.type_code)
        if form is not None:
            return form.secret_now(license_type)
        if license_type is None:
            raise ConflictError(
                f"该证照的版式文件从未生成，而其证照类型 {content.type_code} 已从证照目录中删除，无法生成"
                "（the license's document was never drawn, and its type has since been taken out of the catalog: "
                "its document cannot be drawn）",
                reason="TYPE_NOT_IN_CATALOG",
            )
        return license_type

    def _as_stored(self, stored: LicenseDocument) -> LicenseDocument:
        """``stored``, if its row is the gateway's (the memo) and its bytes are the ones the row names: another
        license's PDF, or any other bytes, put in the row behind the gateway's back are never handed out as it."""
        if not vouched(stored, self._memos):  # another license's row moved to this one
            raise ConflictError(
                "库中该证照版式文件的记录被绕过网关改动过"
                "（the registry's record of this license's document was changed behind the gateway's back）",
                reason="REGISTRY_ALTERED",
            )
        if hashlib.sha256(stored.pdf).hexdigest() != stored.sha256:  # the memo vouches for the hash, not the bytes
            raise ConflictError(
                "库中该证照的版式文件与登记时不符，被绕过网关改动过（the registry's copy of this license's document is "
                "not the document it registered: its bytes were changed behind the gateway's back）",
                reason="REGISTRY_ALTERED",
            )
        return stored

    def _check_not_registered(self, license_id: str, supplied: bytes) -> None:
        """An issuer's PDF that is, or starts with, a license's registered document (its revision a seal of the
        gateway covers) would show that license's page, number and code under another license's identifier, and
        verify PASSED as the other: refused, without naming whose it is. The registry recognises the document by its
        hash, and by the hash of each revision a signature in the PDF covers, each also with the bytes after its end
        marker as the gateway writes them (``signing.pdf.Provenance``): the last byte dropped or a line end rewritten
        had made another file of it. A PDF the gateway drew names its license in its document information too
        (``/Subject``): one that names another license of the registry is refused as well, for a copy saved anew
        (same page, other bytes). Neither stops an issuer who draws a page like another license's on purpose; the
        check catches the copies that slip through, not forgeries (docs/adr/0003-license-documents.md)."""
        try:
            found = provenance(supplied)
        except PdfError as exc:
            raise pdf_refusal("document", exc) from exc
        named = found.subject if found.subject != license_id and len(found.subject or "") <= _MAX_ID_LENGTH else None
        with self._db.unit_of_work() as uow:
            if any(uow.documents.by_sha256(sha256) is not None for sha256 in sorted(found.digests)):
                description = (
                    "该文件已是一份证照的登记文件，不能作为另一份证照的文件（the PDF is already a license's registered "
                    "document: give this license's own）"
                )
            elif named is not None and uow.licenses.get(named) is not None:
                description = (
                    "该文件的文档信息标明它是另一份证照的版式文件，不能作为本证照的文件"
                    "（the PDF's document information names another license of the registry as the one it shows: give "
                    "this license's own）"
                )
            else:
                return
        raise InvalidRequestError(
            [FieldViolation(field="document", reason="REGISTERED_DOCUMENT", description=description)]
        )

    def by_sha256(self, sha256: str) -> LicenseDocument | None:
        with self._db.unit_of_work() as uow:
            return uow.documents.by_sha256(sha256)


def _printed_values(content: LicenseContent, license_type: LicenseType) -> list[tuple[str, str]]:
    """(request field, value) of what a document drawn of ``content`` prints that its issuer wrote: the license
    number, the holder's name and the fields it prints (all but the SECRET ones), in catalog order."""
    values = [("license_number", content.license_number), ("holder.name", content.holder.name)]
    return values + [
        (f"fields.{spec.key}", content.fields[spec.key])
        for spec in license_type.fields
        if spec.key in content.fields and spec.sensitivity is not Sensitivity.SECRET
    ]


_NAMED_UNPRINTABLE = 3
"""How many of a value's unprintable characters its violation names."""


def _unprintable(field: str, missing: str, *, amendment: bool) -> FieldViolation:
    """UNPRINTABLE_CHARACTERS for ``field``, whose value has the letters and marks ``missing`` that no font draws."""
    named = "、".join(
        f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip() for char in missing[:_NAMED_UNPRINTABLE]
    ) + ("…" if len(missing) > _NAMED_UNPRINTABLE else "")
    if amendment:
        advice = (
            "变更的版式文件由网关按模板生成，不能随附：请用版式文件可显示的文字填写该项，或注销该证照后重新签发"
            "并随附版式文件",
            "an amendment's document is always drawn: write the value in letters the document shows, or cancel the "
            "license and issue it again with its document (the PDF, IssueLicense's document)",
        )
    else:
        advice = (
            "请随证照提交其版式文件（PDF，IssueLicense 或 BatchIssueLicenses 的 document），网关为其盖章",
            "send the license's document instead (the PDF, in IssueLicense's or BatchIssueLicenses' document), "
            "which the gateway seals as it is",
        )
    return FieldViolation(
        field=field,
        reason="UNPRINTABLE_CHARACTERS",
        description=f"含有证照版式文件的字体无法显示的文字（{named}），生成的版式文件上每个字只会印成〓；"
        f"{advice[0]}（the value has characters that no font of the drawn document has ({named}): each would be "
        f"printed as 〓. {advice[1][0].upper()}{advice[1][1:]}）",
    )


def _too_long(content: LicenseContent) -> FieldViolation:
    """TOO_LONG_FOR_DOCUMENT for ``content``'s longest printed value."""
    values = {f"fields.{key}": value for key, value in content.fields.items()}
    values["holder.name"] = content.holder.name
    longest = max(values, key=lambda key: printed_weight(values[key]))
    value = values[longest]
    breaks = len(value.splitlines()) - 1 if value else 0
    return FieldViolation(
        field=longest,
        reason="TOO_LONG_FOR_DOCUMENT",
        description=f"证照版式文件用最小字号也排不进一页，请删减（the printed license does not fit on one "
        f"page even in its smallest type; {longest} has {len(value)} characters"
        + (f" and {breaks} line breaks" if breaks else "")
        + "）",
    )


def printed_secrets(
    content: LicenseContent, license_type: LicenseType, printed: frozenset[str] | None
) -> list[FieldSpec]:
    """The fields, in catalog order, that a document of ``content`` printing the fields of ``printed``
    (``LicenseDocument.printed``) prints with a value and that ``license_type``, as the catalog has it now, makes
    SECRET: printed while they were not, and never to leave the gateway now. None when what the document prints is not
    known (``printed`` None: a document its issuer supplied, or one drawn before schema 0034). Sharing refuses such a
    document to consumers (``DOCUMENT_EXCEEDS_PERMIT``), ``DocumentService.get`` to the issuer
    (``DOCUMENT_PRINTS_SECRET``)."""
    if printed is None:
        return []
    return [
        spec
        for spec in license_type.fields
        if spec.sensitivity is Sensitivity.SECRET and spec.key in printed and content.fields.get(spec.key, "").strip()
    ]


def printed_keys(template: LicenseType | PrintedForm) -> frozenset[str]:
    """The keys of the fields a document drawn on ``template`` prints (when they have a value): all but the SECRET."""
    return frozenset(f.key for f in template.fields if f.sensitivity is not Sensitivity.SECRET)


def vouched(document: LicenseDocument, memos: SealMemos | None) -> bool:
    """Whether the registry's row of ``document`` is one the gateway stored (its memo, ``SealMemos.document``): which
    license the document is, by which seal, when it was sealed, and the fields it prints (when known). Without memos
    (none kept) every row is."""
    return memos is None or memos.vouches_document(
        document.license_id, document.sha256, document.seal_id, document.created_at, document.memo, document.printed
    )


def _check_verifies(pdf: bytes, seals: SealService) -> None:
    """An issuer's PDF, once sealed, reads and verifies as VerifyDocument will read it: the signatures can be
    listed (an AcroForm whose fields are each other's /Kids could be sealed, and then every copy of the registered
    document failed at the window as SIGNATURE_INVALID), and the gateway's seal, the last, is intact. No trust check:
    the seal was just made with the issuer's current seal."""
    try:
        # as VerifyDocument reads it first: the first signature, which is the gateway's unless the PDF had one before
        ours = validate_sync(pdf, trust_roots=seals.trust_roots(), intermediates=seals.intermediates(), crls=())
        if (last := ours.signed_revisions[-1][0]) != ours.field_name:
            ours = validate_sync(
                pdf, trust_roots=seals.trust_roots(), intermediates=seals.intermediates(), crls=(), field_name=last
            )
    except PdfTooComplex as exc:  # more to read than a reading does: so VerifyDocument would refuse it
        raise pdf_refusal("document", exc) from exc
    except PdfError as exc:
        raise InvalidRequestError(
            [
                FieldViolation(
                    field="document",
                    reason="DAMAGED_PDF",
                    description="PDF 文件盖章后无法核验，请重新打印为 PDF 文件后提交"
                    f"（the PDF, once sealed, could not be verified ({exc}): save it anew (print to PDF)）",
                )
            ]
        ) from exc
    if ours.integrity.result is not CheckResult.PASSED:
        raise InvalidRequestError(
            [
                FieldViolation(
                    field="document",
                    reason="DAMAGED_PDF",
                    description=f"PDF 文件盖章后核验不通过，请重新另存后提交（the PDF, once sealed, does not verify "
                    f"({ours.integrity.reason}): save it anew）",
                )
            ]
        )


def _check_revisions(supplied: bytes) -> None:
    """An issuer's PDF must leave room for the gateway's seal and what follows it (a sharing copy's use stamp,
    validation data): one of 31 revisions was issued, and its sharing copy could then not be read."""
    try:
        count = revisions(supplied)
    except PdfError as exc:
        raise pdf_refusal("document", exc) from exc
    if count > MAX_SUPPLIED_REVISIONS:
        raise pdf_refusal(
            "document",
            TooManyRevisions(
                f"the PDF has {count} revisions (incremental updates); a license document may have at most "
                f"{MAX_SUPPLIED_REVISIONS}, to stay readable with the seals that follow: save it anew"
            ),
            advice=f"证照文件最多{MAX_SUPPLIED_REVISIONS}次，请重新另存",
        )
