"""``zzgw.v1.CatalogService``: the license types, matters and bundles of the catalog."""

from __future__ import annotations

import grpc

from gateway.api import convert
from gateway.api.errors import within_limit
from gateway.domain.catalog import Bundle, Catalog, Matter
from gateway.domain.errors import FieldViolation, InvalidRequestError, NotFoundError
from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc


def oversize_listing(catalog: Catalog, limit: int) -> str:
    """Why ``catalog`` cannot be served under the message limit ``limit``: its listing of every license type
    (``ListLicenseTypes``) or of every matter and bundle (``ListMatters``) would not fit in a reply; empty when both
    do. A catalog of thousands of types had loaded, and every ListLicenseTypes then failed with gRPC's bare
    RESOURCE_EXHAUSTED, logged OK, stopping `zzgw import` and `zzgw verify`, which read it (a reviewer)."""
    for call, reply in (("ListLicenseTypes", _types(catalog)), ("ListMatters", _matters(catalog))):
        if (size := reply.ByteSize()) > limit:
            return (
                f"its {call} reply would have {size} bytes, more than the message limit of {limit} "
                "(ZZGW_MAX_MESSAGE_BYTES): raise the limit or split the catalog"
            )
    return ""


def _types(catalog: Catalog) -> catalog_pb2.ListLicenseTypesResponse:
    return catalog_pb2.ListLicenseTypesResponse(
        license_types=[convert.license_type_message(t) for t in catalog.license_types.values()]
    )


def _matters(
    catalog: Catalog, matters: list[Matter] | None = None, bundles: list[Bundle] | None = None
) -> catalog_pb2.ListMattersResponse:
    """The ``ListMatters`` reply of ``matters`` and ``bundles``, the catalog's every one for None."""
    return catalog_pb2.ListMattersResponse(
        matters=[convert.matter_message(m) for m in (catalog.matters.values() if matters is None else matters)],
        bundles=[convert.bundle_message(b) for b in (catalog.bundles.values() if bundles is None else bundles)],
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, catalog: Catalog, *, max_message_bytes: int):
        self._catalog = catalog
        self._max_message_bytes = max_message_bytes
        self._types = _types(catalog)

    def ListLicenseTypes(
        self, request: catalog_pb2.ListLicenseTypesRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListLicenseTypesResponse:
        return within_limit(self._types, self._max_message_bytes)  # a gateway refuses such a catalog at start-up

    def GetLicenseType(
        self, request: catalog_pb2.GetLicenseTypeRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.GetLicenseTypeResponse:
        _require("type_code", request.type_code)
        return catalog_pb2.GetLicenseTypeResponse(
            license_type=convert.license_type_message(self._catalog.license_type(request.type_code))
        )

    def ListMatters(
        self, request: catalog_pb2.ListMattersRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListMattersResponse:
        bundles = list(self._catalog.bundles.values())
        matters = list(self._catalog.matters.values())
        if request.bundle_code:
            bundle = self._catalog.bundles.get(request.bundle_code)
            if bundle is None:
                raise NotFoundError(
                    f"没有一件事 {request.bundle_code[:64]}（unknown bundle {request.bundle_code[:64]!r}）",
                    reason="BUNDLE_NOT_FOUND",
                )
            bundles = [bundle]
            matters = [self._catalog.matters[c] for c in bundle.matter_codes]
        return within_limit(_matters(self._catalog, matters, bundles), self._max_message_bytes)

    def GetMatter(
        self, request: catalog_pb2.GetMatterRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.GetMatterResponse:
        _require("matter_code", request.matter_code)
        return catalog_pb2.GetMatterResponse(matter=convert.matter_message(self._catalog.matter(request.matter_code)))


def _require(field: str, value: str) -> None:
    if not value:
        said = _REQUIRED_WORDS[field]
        raise InvalidRequestError(
            [FieldViolation(field=field, reason="REQUIRED", description=f"{said}（{field} is required）")]
        )


_REQUIRED_WORDS = {"type_code": "请填写证照类型代码", "matter_code": "请填写事项编码"}
