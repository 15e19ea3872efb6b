"""Client channels for zzgw's own tools (demo, import, benchmarks) and for tests: a member's credentials attached.

>>> channel = connect("127.0.0.1:50051", MemberCredentials.dev(data_dir, "11370100993701011T"))  # doctest: +SKIP

Dev mode sends ``authorization: Bearer <token>`` on every call; production mode presents the member's client
certificate in the TLS handshake.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from gateway.config import MAX_MESSAGE_BYTES


class NoCredentials(Exception):
    """This machine holds no credentials for the member: the message says where it looked, Chinese first, as the
    commands that use it (``zzgw import``, ``zzgw verify``) say their other messages."""


@dataclass(frozen=True)
class MemberCredentials:
    code: str
    token: str = ""
    cert_pem: bytes = b""
    key_pem: bytes = b""
    ca_pem: bytes = b""

    @classmethod
    def dev(cls, data_dir: Path, code: str) -> MemberCredentials:
        path = data_dir / "dev-tokens.json"
        try:
            tokens = json.loads(path.read_text(encoding="utf-8"))["tokens"]
        except FileNotFoundError:
            raise NoCredentials(
                f"没有开发令牌文件 {path}：请先运行 `zzgw init`（no dev tokens at {path}: run `zzgw init` first）"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NoCredentials(
                f"无法读取开发令牌文件 {path}（cannot read the dev tokens at {path}: {exc!r}）"
            ) from None
        if code not in tokens:
            raise NoCredentials(
                f"开发令牌文件 {path} 中没有成员 {code} 的令牌，`zzgw members` 可列出全部成员"
                f"（no dev token for member {code} in {path}: `zzgw members` lists the members）"
            )
        try:
            return cls(code=code, token=str(tokens[code]["token"]))
        except (KeyError, TypeError):
            raise NoCredentials(
                f"开发令牌文件 {path} 中没有成员 {code} 的有效令牌"
                f"（the dev tokens at {path} hold no token for member {code}）"
            ) from None

    @classmethod
    def production(cls, data_dir: Path, code: str) -> MemberCredentials:
        pki = data_dir / "pki"
        try:
            return cls(
                code=code,
                cert_pem=(pki / "members" / f"{code}.pem").read_bytes(),
                key_pem=(pki / "members" / f"{code}.key").read_bytes(),
                ca_pem=(pki / "ca.pem").read_bytes(),
            )
        except FileNotFoundError as exc:
            if str(exc.filename).endswith(".key"):  # the certificate is there: the key went to the department
                raise NoCredentials(
                    f"缺少成员 {code} 的私钥 {exc.filename}：私钥交付给该部门后即从网关删除（docs/departments.md），"
                    "以该成员身份调用须使用部门自己的证书和私钥"
                    f"（member {code}'s private key, {exc.filename}, is missing: it is deleted from the gateway once "
                    "handed over to the department (docs/departments.md); acting as that member takes the "
                    "department's own certificate and key）"
                ) from None
            raise NoCredentials(
                f"没有成员 {code} 的客户端证书：缺少 {exc.filename}，`zzgw members` 可列出全部成员"
                f"（no client certificate for member {code}: {exc.filename} is missing; "
                "`zzgw members` lists the members）"
            ) from None
        except OSError as exc:
            raise NoCredentials(
                f"无法读取成员 {code} 的客户端证书（cannot read member {code}'s client certificate: {exc}）"
            ) from None

    @classmethod
    def for_mode(cls, mode: str, data_dir: Path, code: str) -> MemberCredentials:
        return cls.production(data_dir, code) if mode == "production" else cls.dev(data_dir, code)


def connect(address: str, credentials: MemberCredentials, options: list[tuple[str, Any]] | None = None) -> grpc.Channel:
    """A channel to the gateway at ``address`` as the member of ``credentials``, taking replies up to the largest
    message limit a gateway may be given (``MAX_MESSAGE_BYTES``, 256 MiB), unless ``options`` say another.

    gRPC's default receive limit is 4 MiB: a gateway of a larger ``ZZGW_MAX_MESSAGE_BYTES`` (as the refusal of a
    catalog too large to list advises) answered ListLicenseTypes past it, logged OK, and ``zzgw verify`` failed on
    receipt, "temporarily", while ``zzgw import`` went on without its column labels (a reviewer, R2). The gateway
    bounds what it sends by its own limit, so a client taking up to the largest one holds no more than it is sent."""
    options = list(options or [])
    if not any(name == "grpc.max_receive_message_length" for name, _ in options):
        options.append(("grpc.max_receive_message_length", MAX_MESSAGE_BYTES))
    if credentials.cert_pem:
        tls = grpc.ssl_channel_credentials(credentials.ca_pem, credentials.key_pem, credentials.cert_pem)
        return grpc.secure_channel(address, tls, options=options)
    channel = grpc.insecure_channel(address, options=options)
    return grpc.intercept_channel(channel, BearerToken(credentials.token)) if credentials.token else channel


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call (all four call shapes)."""

    def __init__(self, token: str):
        self._metadata = (("authorization", f"Bearer {token}"),)

    def _with_token(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        details = details._replace(metadata=tuple(details.metadata or ()) + self._metadata)
        return continuation(details, request)

    intercept_unary_unary = _with_token
    intercept_unary_stream = _with_token
    intercept_stream_unary = _with_token
    intercept_stream_stream = _with_token
