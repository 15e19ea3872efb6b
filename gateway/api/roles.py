"""Who may call what: every RPC of the gateway names the roles allowed to call it.

An RPC missing from this table is refused (fail closed); a test checks that the table covers every method of every
service the server registers. Health and reflection are public so that load balancers and tools can use them.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain.model import Role

ANY_MEMBER = frozenset(Role)
PUBLIC_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

_ISSUERS = frozenset({Role.ISSUER, Role.ADMIN})
# departments handling matters and their clerks, and partner gateways for their region's matters (跨省通办: a
# partner province's forwarder calls here as its PARTNER member, naming the acting department and clerk in
# x-zzgw-operator, and relies on the receipt; this gateway forwards nothing to other regions: ADR 0017)
_VERIFIERS = frozenset({Role.CONSUMER, Role.ISSUER, Role.ADMIN, Role.PARTNER})
_CONSUMERS = frozenset({Role.CONSUMER, Role.PARTNER})  # read data for a matter (an issuer reads its own elsewhere)
_READERS = frozenset({Role.CONSUMER, Role.PARTNER, Role.ISSUER})  # the policy refuses issuers others' licenses

ALLOWED_ROLES: Mapping[str, frozenset[Role]] = {
    "/zzgw.v1.CatalogService/ListLicenseTypes": ANY_MEMBER,
    "/zzgw.v1.CatalogService/GetLicenseType": ANY_MEMBER,
    "/zzgw.v1.CatalogService/ListMatters": ANY_MEMBER,
    "/zzgw.v1.CatalogService/GetMatter": ANY_MEMBER,
    "/zzgw.v1.IssuanceService/IssueLicense": frozenset({Role.ISSUER}),
    "/zzgw.v1.IssuanceService/BatchIssueLicenses": frozenset({Role.ISSUER}),
    "/zzgw.v1.IssuanceService/AmendLicense": frozenset({Role.ISSUER}),
    "/zzgw.v1.IssuanceService/ChangeLicenseStatus": frozenset({Role.ISSUER}),
    # an issuer's own records, whole but for SECRET fields; administrators administer and read no personal data
    "/zzgw.v1.IssuanceService/GetLicense": frozenset({Role.ISSUER}),
    "/zzgw.v1.IssuanceService/GetLicenseDocument": frozenset({Role.ISSUER}),
    "/zzgw.v1.IssuanceService/WatchLicenseChanges": frozenset({Role.ISSUER, Role.CONSUMER, Role.PARTNER, Role.ADMIN}),
    "/zzgw.v1.SealService/RegisterSeal": frozenset({Role.ISSUER}),
    "/zzgw.v1.SealService/ListSeals": _ISSUERS,
    "/zzgw.v1.SealService/GetSeal": ANY_MEMBER,  # a seal's certificate and image are what verifiers need
    "/zzgw.v1.SealService/RevokeSeal": frozenset({Role.ISSUER}),
    "/zzgw.v1.SealService/SealDocument": frozenset({Role.ISSUER}),
    "/zzgw.v1.SealService/StampDocument": frozenset({Role.ISSUER}),
    "/zzgw.v1.VerificationService/VerifyLicense": _VERIFIERS,
    "/zzgw.v1.VerificationService/VerifyDocument": _VERIFIERS,
    "/zzgw.v1.VerificationService/VerifyStamp": _VERIFIERS,
    "/zzgw.v1.VerificationService/CheckClaim": _VERIFIERS,
    # a receipt holds no personal data and its number is enough (80 random bits): a holder portal checks what was
    # signed about its holder, by the numbers the holder's access log gives
    "/zzgw.v1.VerificationService/GetReceipt": _VERIFIERS | {Role.HOLDER_PORTAL},
    "/zzgw.v1.VerificationService/ListCaseReceipts": _VERIFIERS,
    "/zzgw.v1.AuditService/VerifyAuditLog": frozenset({Role.ADMIN}),
    # not admins: a holder's log says which departments used whose licenses, and admins read no personal data
    "/zzgw.v1.AuditService/ListAccessRecords": frozenset({Role.HOLDER_PORTAL, Role.ISSUER}),
    "/zzgw.v1.SharingService/ListHolderLicenses": _CONSUMERS,
    "/zzgw.v1.SharingService/GetLicenseData": _READERS,
    "/zzgw.v1.SharingService/GetLicenseDocument": _READERS,
    "/zzgw.v1.SharingService/PrefillForm": _CONSUMERS,
    "/zzgw.v1.AuthorizationService/RequestAccess": _CONSUMERS,
    "/zzgw.v1.AuthorizationService/ListAccessRequests": frozenset({Role.ISSUER, Role.CONSUMER, Role.PARTNER}),
    "/zzgw.v1.AuthorizationService/DecideAccessRequest": frozenset({Role.ISSUER}),
    "/zzgw.v1.AuthorizationService/CancelAccessRequest": _CONSUMERS,
    "/zzgw.v1.AuthorizationService/GrantConsent": frozenset({Role.HOLDER_PORTAL}),
    "/zzgw.v1.AuthorizationService/WithdrawConsent": frozenset({Role.HOLDER_PORTAL}),
    "/zzgw.v1.AuthorizationService/ListConsents": frozenset({Role.HOLDER_PORTAL}),
    "/zzgw.v1.AuthorizationService/ListConsentableLicenses": frozenset({Role.HOLDER_PORTAL}),
}


METHOD_WORDS: Mapping[str, str] = {
    "ListLicenseTypes": "查询证照目录",
    "GetLicenseType": "查询证照类型",
    "ListMatters": "查询事项目录",
    "GetMatter": "查询事项",
    "IssueLicense": "签发证照",
    "BatchIssueLicenses": "批量签发证照",
    "AmendLicense": "变更证照",
    "ChangeLicenseStatus": "变更证照状态",
    "GetLicense": "调阅本部门的证照",
    "GetLicenseDocument": "调取证照文件",
    "WatchLicenseChanges": "订阅证照变更",
    "RegisterSeal": "登记电子印章",
    "ListSeals": "查看电子印章",
    "GetSeal": "查看电子印章",
    "RevokeSeal": "吊销电子印章",
    "SealDocument": "以电子印章盖章",
    "StampDocument": "以电子印章盖章",
    "VerifyLicense": "核验证照",
    "VerifyDocument": "核验证照文件",
    "VerifyStamp": "核验电子签章",
    "CheckClaim": "进行信息比对",
    "GetReceipt": "查验回执",
    "ListCaseReceipts": "查看办件的核验回执",
    "VerifyAuditLog": "核查用证记录链",
    "ListAccessRecords": "查看用证记录",
    "ListHolderLicenses": "查询持证主体的证照",
    "GetLicenseData": "调取证照数据",
    "PrefillForm": "预填表单",
    "RequestAccess": "提交共享申请",
    "ListAccessRequests": "查看共享申请",
    "DecideAccessRequest": "审批共享申请",
    "CancelAccessRequest": "撤回共享申请",
    "GrantConsent": "授权用证",
    "WithdrawConsent": "撤回用证授权",
    "ListConsents": "查看用证授权",
    "ListConsentableLicenses": "查看可授权的证照",
}
"""What each RPC does, as a refusal of a member without its role says it (济南市数字政务服务中心无权调取证照数据
（GetLicenseData）): the RPC's name alone had been all the Chinese said (无权调用 GetLicenseData)."""


def is_public(method: str) -> bool:
    return method.startswith(PUBLIC_SERVICES)
