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
            raise NoCredentials(  # a production store's directory has none: its members hold client certificates,
                # and `zzgw init` with dev settings is refused there (a newcomer had been sent to run it first)
                f"没有开发令牌文件 {path}：请先运行 `zzgw init`；"
                "若此数据目录的网关为生产模式，请设 ZZGW_MODE=production，以成员的客户端证书连接"
                f"（no dev tokens at {path}: run `zzgw init` first; or, if this data directory's gateway is in "
                "production mode, set ZZGW_MODE=production to connect with the member's client certificate）"
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
    def production(cls, data_dir: Path, code: str, files: HandedOver | None = None) -> MemberCredentials:
        """The member's client certificate, its key and the member CA: the files ``files`` names (``--cert``,
        ``--key``, ``--ca``), and those it does not name from the gateway's data directory (``pki/members/<USCC>.pem``,
        ``.key``, ``pki/ca.pem``). A department holds only the pair it was handed and ``ca.pem``, in no such layout,
        and the gateway's copy of its key is deleted once handed over (docs/departments.md): without the options,
        ``zzgw import`` had no way to the department's own files (a reviewer, R1)."""
        files = files or HandedOver()
        if (files.cert is None) != (files.key is None):
            given, other = ("--cert", "--key") if files.cert is not None else ("--key", "--cert")
            raise NoCredentials(
                f"给出了 {given} 但没有 {other}：客户端证书和私钥须一同给出"
                f"（{given} is given without {other}: the client certificate and its key go together）"
            )
        pki = data_dir / "pki"
        cert = files.cert or pki / "members" / f"{code}.pem"
        key = files.key or pki / "members" / f"{code}.key"
        ca = files.ca or pki / "ca.pem"
        try:
            credentials = cls(code=code, cert_pem=cert.read_bytes(), key_pem=key.read_bytes(), ca_pem=ca.read_bytes())
        except FileNotFoundError as exc:
            named_by = {str(path): option for path, option in files.options() if path is not None}
            if (option := named_by.get(str(exc.filename))) is not None:
                raise NoCredentials(
                    f"找不到 {option} 给出的文件 {exc.filename}（no such file {exc.filename}, given as {option}）"
                ) from None
            if str(exc.filename).endswith(".key"):  # the certificate is there: the key went to the department
                raise NoCredentials(
                    f"缺少成员 {code} 的私钥 {exc.filename}：私钥交付给该部门后即从网关删除（docs/departments.md），"
                    "以该成员身份调用须使用部门自己的证书和私钥：--cert USCC.pem --key USCC.key --ca ca.pem"
                    "（docs/import.md，生产模式）"
                    f"（member {code}'s private key, {exc.filename}, is missing: it is deleted from the gateway once "
                    "handed over to the department (docs/departments.md); acting as that member takes the "
                    "department's own certificate and key: --cert USCC.pem --key USCC.key --ca ca.pem "
                    "(docs/import.md, In production)）"
                ) from None
            if exc.filename == str(ca):
                raise NoCredentials(
                    f"缺少成员 CA 证书 {exc.filename}：请以 --ca 给出交付给部门的 ca.pem"
                    f"（the member CA, {exc.filename}, is missing: give the ca.pem handed to the department as --ca）"
                ) from None
            raise NoCredentials(
                f"没有成员 {code} 的客户端证书：缺少 {exc.filename}；部门请以 --cert、--key、--ca 给出交付给它的证书、"
                "私钥和 ca.pem，网关上 `zzgw members` 可列出全部成员"
                f"（no client certificate for member {code}: {exc.filename} is missing; a department gives the "
                "certificate, key and ca.pem it was handed as --cert, --key and --ca; on the gateway, "
                "`zzgw members` lists the members）"
            ) from None
        except OSError as exc:
            raise NoCredentials(
                f"无法读取成员 {code} 的客户端证书（cannot read member {code}'s client certificate: {exc}）"
            ) from None
        named = _member_named(credentials.cert_pem)
        if named is None:  # gRPC fails its handshake on it without a word: said here, as a key not the certificate's
            # (a DER .cer, the key given for it: a reviewer of the fixes, R3)
            converted = f"`openssl x509 -inform der -in {cert} -out {code}.pem`"
            raise NoCredentials(
                f"{_given(files.cert, '--cert', '客户端证书', cert)} 不是 PEM 格式的证书：请给出交付的 {code}.pem；"
                f"DER 格式的 .cer 可用 {converted} 转换（{cert} is no PEM certificate: give the {code}.pem handed "
                f"over; a DER .cer converts with {converted}）"
            )
        if named != code:  # the gateway acts as the certificate's member, whatever is asked
            raise NoCredentials(
                f"客户端证书 {cert} 属于成员 {named or '（无）'}，不是 {code}"
                f"（the client certificate {cert} is member {named or '(none)'}'s, not {code}'s）"
            )
        if mismatch := _key_mismatch(credentials, cert, key, files):
            raise NoCredentials(mismatch)
        return credentials

    @classmethod
    def for_mode(cls, mode: str, data_dir: Path, code: str, files: HandedOver | None = None) -> MemberCredentials:
        if mode == "production":
            return cls.production(data_dir, code, files)
        if files and (files.cert or files.key or files.ca):  # a dev gateway takes plain TCP and a token, no TLS
            raise NoCredentials(
                "--cert、--key、--ca 仅用于生产模式的证照网关（ZZGW_MODE=production）；"
                "开发模式使用 `zzgw init` 写下的开发令牌"
                "（--cert, --key and --ca are for a gateway in production mode, ZZGW_MODE=production; dev mode takes "
                "the dev token `zzgw init` wrote）"
            )
        return cls.dev(data_dir, code)


@dataclass(frozen=True)
class HandedOver:
    """The files a department was handed (docs/departments.md), as ``--cert``, ``--key`` and ``--ca`` name them:
    each one given is read instead of the gateway's data directory's."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    def options(self) -> tuple[tuple[Path | None, str], ...]:
        return (self.cert, "--cert"), (self.key, "--key"), (self.ca, "--ca")


def _member_named(cert_pem: bytes) -> str | None:
    """The member the client certificate names (its subject's serialNumber, ``signing.pki.member_code``); None
    when the file is no PEM certificate: the TLS handshake then says what it says."""
    from cryptography import x509

    from signing.pki import member_code

    try:
        return member_code(x509.load_pem_x509_certificate(cert_pem))
    except ValueError:
        return None


def _given(option_value: Path | None, option: str, what: str, path: Path) -> str:
    """A credential file named in a message, with the option that gave it when one did (``--cert 给出的…``)."""
    return f"{option} 给出的{what} {path}" if option_value is not None else f"{what} {path}"


def _key_mismatch(credentials: MemberCredentials, cert: Path, key: Path, files: HandedOver) -> str:
    """What is wrong with the pair when the private key ``key`` is not the key of the certificate ``cert`` (an
    encrypted key, or one that is no key at all, likewise), said naming the options that gave them, or "". gRPC
    fails to build its TLS handshake with such a pair without a word of it: ``zzgw import`` had retried for a minute
    and blamed the gateway's TLS and address, ``zzgw verify`` and ``zzgw receipt get`` the same, though the mistake
    is this machine's (a renewed certificate with the old key, two departments' files in one folder: review s55fix,
    R2). Told before anything is sent, as another member's certificate is."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import load_pem_x509_certificate

    key_said = _given(files.key, "--key", "私钥", key)
    cert_said = _given(files.cert, "--cert", "客户端证书", cert)
    key_en = f"the private key {key}" + (" (--key)" if files.key is not None else "")
    cert_en = f"the client certificate {cert}" + (" (--cert)" if files.cert is not None else "")
    try:
        private = serialization.load_pem_private_key(credentials.key_pem, password=None)
    except TypeError:  # encrypted: gRPC takes no passphrase
        return (
            f"{key_said} 已加密：请使用交付时的未加密私钥文件（{key_en} is encrypted: use the unencrypted key file as "
            "it was handed over）"
        )
    except (ValueError, UnsupportedAlgorithm):
        return f"{key_said} 不是 PEM 格式的私钥（{key_en} is no PEM private key）"
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ours = load_pem_x509_certificate(credentials.cert_pem).public_key().public_bytes(*public)
    if private.public_key().public_bytes(*public) == ours:
        return ""
    return (
        f"{key_said} 不是 {cert_said} 的私钥：证书和私钥须为同一对（续期后的新证书须配新私钥），请核对所给文件"
        f"（{key_en} is not the key of {cert_en}: give the certificate with its own key, a renewed certificate "
        "with the new key）"
    )


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
