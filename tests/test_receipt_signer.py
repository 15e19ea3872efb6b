"""The receipt certificate (核验回执专用章) is in the name of the gateway's operator, never of a partner gateway the
members file also makes an administrator (review partner, "Unverified": confirmed and fixed)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from gateway.authorities import RECEIPT_CERT
from gateway.config import Settings
from gateway.server import initialise
from tests.conftest import PASSPHRASE

DEMO_MEMBERS = Path(__file__).resolve().parent.parent / "gateway" / "bootstrap" / "members.json"
OPERATOR = "11370100993701134U"  # 济南市大数据局: ADMIN
PARTNER = "11440100994401010G"  # 广州市政务服务和数据管理局: PARTNER of 440100


def test_a_partner_made_an_administrator_and_listed_first_does_not_name_the_receipt_certificate(
    store: str, tmp_path: Path
) -> None:
    """A members file may give a partner gateway ADMIN beside PARTNER (it is valid, and `zzgw init` takes it), and
    may list it first. The receipt certificate had been named after the first member with ADMIN, so this gateway's
    receipts were sealed in the partner province's name (广州市政务服务和数据管理局 核验回执专用章). It is the first
    administrator that is no partner gateway: the gateway's own operator."""
    raw = json.loads(DEMO_MEMBERS.read_text(encoding="utf-8"))
    (partner,) = (m for m in raw["members"] if m["code"] == PARTNER)
    partner["roles"] = ["PARTNER", "ADMIN"]
    raw["members"] = [partner, *(m for m in raw["members"] if m["code"] != PARTNER)]
    members = tmp_path / "members.json"
    members.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, members=str(members))
    initialise(settings)
    certificate = x509.load_pem_x509_certificate((settings.seal_ca_dir / RECEIPT_CERT).read_bytes())
    (named,) = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    (organisation,) = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert (named.value, organisation.value) == (OPERATOR, "济南市大数据局")
