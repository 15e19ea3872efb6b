"""What a catalog does to the licenses a store holds and to the members that issue them, judged by `zzgw init` when it
adopts the catalog (``--adopt-catalog``, ADR 0013) and, for the members, on every run.

>>> [(i.type_code, i.issuer_code, i.licenses) for i in issuers_left(db, catalog)]  # doctest: +SKIP
[('111000009910000354003', '11370100993701011T', 2)]
>>> [(f.type_code, f.key, f.licenses) for f in fields_left(db, catalog)]  # doctest: +SKIP
[('111000009910000354003', 'domicile', 2)]

A license's issuer is judged against the catalog the gateway serves now (一数一源: ``authority_finding``), so a catalog
that takes a department out of a type's ``issuers`` turns the licenses it issued while it was authoritative into
FAILED / NOT_AUTHORITATIVE_ISSUER, and no one can amend, revoke or cancel them any more: not the department, no longer
authoritative, nor the new one, not their issuer. Init refuses such a catalog while the department has licenses of the
type that have not ended (``issuers_left``). A field taken out of a type stays in the licenses that carry it: they still
verify, and an amendment of one drops it (``clear_fields``); init says which and how many (``fields_left``). A type's
issuer that is no registered member with the role ISSUER cannot issue it (``issuers_not_issuing``), and a type none of
whose issuers can is issued by no one (``types_without_issuer``). A catalog author had moved 食品经营许可证 to a new
department, dropped a required field and misspelt an issuer's code without a word from init (a catalog author tester).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.domain.catalog import Catalog
from gateway.domain.counts import counted
from gateway.domain.model import Member, Role
from gateway.domain.status import NOT_ENDED
from gateway.store.database import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerLeft:
    """A department the catalog no longer names among a type's issuers, with licenses of the type not ended."""

    type_code: str
    type_name: str
    issuer_code: str
    licenses: int
    """How many of its current licenses of the type have not ended (``NOT_ENDED``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldLeft:
    """A field key that licenses not ended carry and their type in the catalog no longer has."""

    type_code: str
    type_name: str
    key: str
    licenses: int
    """How many current licenses of the type that have not ended carry it."""


def issuers_left(db: Database, catalog: Catalog) -> tuple[IssuerLeft, ...]:
    """Each issuer of licenses that have not ended (有效, 已过期 among them: a stored status, and expiry is none;
    已暂停使用; 已吊销或撤销 until 注销) of a type the catalog has
    but whose ``issuers`` no longer name it. Found by one index seek per issuer and type the store holds, and a count
    for each one found only."""
    left: list[IssuerLeft] = []
    with db.unit_of_work() as uow:
        for issuer_code, type_code in uow.licenses.issuers_and_types():
            license_type = catalog.license_types.get(type_code)
            if license_type is None or issuer_code in license_type.issuers:  # a type gone is ``types_left``'s
                continue
            if licenses := uow.licenses.count_of_issuer(issuer_code, type_code, NOT_ENDED):
                left.append(
                    IssuerLeft(
                        type_code=type_code, type_name=license_type.name, issuer_code=issuer_code, licenses=licenses
                    )
                )
    return tuple(left)


def fields_left(db: Database, catalog: Catalog) -> tuple[FieldLeft, ...]:
    """Each field key that current licenses not ended carry and their type in the catalog does not have, with how
    many carry it. One pass over the current licenses of each type the catalog has: for an adoption, not for every
    start."""
    left: list[FieldLeft] = []
    with db.unit_of_work() as uow:
        for type_code in uow.licenses.current_type_codes():
            license_type = catalog.license_types.get(type_code)
            if license_type is None:
                continue
            for key, licenses in sorted(uow.licenses.field_keys(type_code, NOT_ENDED).items()):
                if license_type.field_spec(key) is None:
                    left.append(FieldLeft(type_code=type_code, type_name=license_type.name, key=key, licenses=licenses))
    return tuple(left)


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderCodeTypeLeft:
    """A holder code type that holders of licenses not ended have and their type in the catalog no longer takes."""

    type_code: str
    type_name: str
    code_type: str
    licenses: int
    """How many current licenses of the type that have not ended have a holder of the code type."""


def holder_code_types_left(db: Database, catalog: Catalog) -> tuple[HolderCodeTypeLeft, ...]:
    """Each holder code type that holders of current licenses not ended have and their type in the catalog does not
    take (``holder_code_types``), with how many: an amendment of such a license is refused BAD_HOLDER_CODE_TYPE, and
    cannot change the holder, so it can only be cancelled. A catalog that took 414 out of 护照 had been adopted
    without a word (a reviewer, R7). One pass over the current licenses of each type the catalog has: for an
    adoption, not for every start."""
    left: list[HolderCodeTypeLeft] = []
    with db.unit_of_work() as uow:
        for type_code in uow.licenses.current_type_codes():
            license_type = catalog.license_types.get(type_code)
            if license_type is None:
                continue
            for code_type, licenses in sorted(uow.licenses.holder_code_types(type_code, NOT_ENDED).items()):
                if code_type not in license_type.holder_code_types:
                    left.append(
                        HolderCodeTypeLeft(
                            type_code=type_code, type_name=license_type.name, code_type=code_type, licenses=licenses
                        )
                    )
    return tuple(left)


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleLeft:
    """A bundle code that stored case receipts name and the catalog no longer has."""

    bundle_code: str
    receipts: int
    cases: int


def bundles_left(db: Database, catalog: Catalog) -> tuple[BundleLeft, ...]:
    """Each bundle code that case receipts in the store name and ``catalog`` has not, with how many receipts and
    cases: a case is found by its bundle's code and its number, so a bundle whose code changes leaves its cases'
    receipts under the old one, which no call may name any more (UNKNOWN_BUNDLE), and the new code finds none of
    them (a bundle tester's running case lost its 6 receipts, 接办免收 with them, without a word at adoption)."""
    with db.unit_of_work() as uow:
        return tuple(
            BundleLeft(bundle_code=code, receipts=receipts, cases=cases)
            for code in uow.receipts.bundle_codes()
            if code not in catalog.bundles
            for receipts, cases in (uow.receipts.count_of_bundle(code),)
        )


def bundles_left_warning(left: Sequence[BundleLeft]) -> str:
    """The warning of ``bundles_left``, Chinese first for the 目录管理员, naming each code and its counts. The store
    keeps no earlier catalog, only its fingerprint, so a code this file changed cannot be told from a bundle retired
    on purpose before: both are named at every adoption while their receipts are kept, and the warning says so
    rather than claim the loss begins at this restart and bid a retired bundle back (a reviewer)."""
    named = "、".join(f"{b.bundle_code}（{b.receipts:,} 份核验回执，{b.cases:,} 个办件）" for b in left)
    named_en = "; ".join(
        f"{b.bundle_code}: {counted(b.receipts, 'case receipt')} in {counted(b.cases, 'case')}" for b in left
    )
    return (
        f"warning: 证照目录中已没有一件事 {named}，而本库的办件核验回执列在这些编码下：用此目录的网关上，这些"
        "办件（正在办理的也在内）用旧编码查询被拒绝（UNKNOWN_BUNDLE），用新编码查询看不到这些回执，"
        "后续部门不能再接办免收。一件事的编码就是它的身份：改名只改 name，不改 code；"
        "若是此次改了编码，请把原编码改回后再采用此目录；"
        "若是有意撤下的一件事（其办件已办结），无需改动，回执保留期间每次采用目录都会列出它"
        f"（docs/catalog.md: Bundles）（the catalog has no bundles that stored case receipts name ({named_en}): "
        "their cases, running ones too, no longer list them, by the old code (UNKNOWN_BUNDLE) or by a new one; a "
        "bundle's code is its identity: rename its name, not its code, and put back a code this file changed; a "
        "bundle retired on purpose is named at every adoption while its receipts are kept, and needs nothing）"
    )


def issuers_not_issuing(catalog: Catalog, members: Sequence[Member]) -> tuple[str, ...]:
    """``TYPE_CODE ISSUER_CODE: why`` for each issuer a type of the catalog names that cannot issue it: no member in
    force has the code (a misspelt one, a department not registered yet, or one revoked), or the member has no role
    ISSUER (a department that uses the license, named instead of the one that issues it)."""
    by_code = {m.code: m for m in members}
    found: list[str] = []
    for license_type in catalog.license_types.values():
        for code in sorted(license_type.issuers):
            member = by_code.get(code)
            if member is None:
                found.append(f"{license_type.code} {code}: no member in force")
            elif not member.has(Role.ISSUER):
                found.append(f"{license_type.code} {code}: {member.name} has no role ISSUER")
    return tuple(found)


def types_without_issuer(catalog: Catalog, members: Sequence[Member]) -> tuple[str, ...]:
    """``TYPE_CODE TYPE_NAME`` of each type of the catalog that no member in force with the role ISSUER may issue:
    none of its ``issuers`` is one, or it names none."""
    issuing = {m.code for m in members if m.has(Role.ISSUER)}
    return tuple(
        f"{license_type.code} {license_type.name}"
        for license_type in catalog.license_types.values()
        if not license_type.issuers & issuing
    )
