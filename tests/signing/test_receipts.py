"""Receipts signed a batch at a time: the Merkle tree against Certificate Transparency's vectors, every receipt of
a batch checkable on its own, and every way of moving a receipt, proof or signature between batches refused."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
from cryptography import x509

from signing.canonical import canonical_json
from signing.errors import InvalidSignature
from signing.keys import SoftwareKey
from signing.merkle import all_paths, inclusion_path, leaf_hash, root_from_path, tree_hash
from signing.receipts import MAX_DEPTH, MAX_STATEMENT, check_receipt, sign_receipt, sign_receipts, too_deep
from tests.conftest import gateway_key

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "merkle.json").read_text(encoding="utf-8"))
LEAVES = [leaf_hash(bytes.fromhex(h)) for h in VECTORS["leaves_hex"]]


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_roots_match_certificate_transparency(size: int) -> None:
    assert tree_hash(LEAVES[:size]).hex() == VECTORS["roots_hex"][size - 1]
    root, paths = all_paths(LEAVES[:size])
    assert root == tree_hash(LEAVES[:size])
    assert paths == [inclusion_path(LEAVES[:size], i) for i in range(size)]


@pytest.mark.parametrize("proof", VECTORS["inclusion_proofs"], ids=lambda p: f"{p['index']}of{p['size']}")
def test_inclusion_proofs_match_certificate_transparency(proof: dict[str, object]) -> None:
    index, size = int(proof["index"]), int(proof["size"])  # type: ignore[call-overload]
    path = [bytes.fromhex(h) for h in proof["path_hex"]]  # type: ignore[attr-defined]
    assert inclusion_path(LEAVES[:size], index) == path
    assert root_from_path(LEAVES[index], index, size, path) == bytes.fromhex(VECTORS["roots_hex"][size - 1])


def test_a_path_proves_only_its_own_place() -> None:
    """(A path alone may fit trees of several sizes, e.g. leaf 0 of 7 or of 8: receipts sign the size too.)"""
    root, paths = all_paths(LEAVES[:7])
    for i in range(7):
        assert root_from_path(LEAVES[i], i, 7, paths[i]) == root
        assert root_from_path(LEAVES[i], (i + 1) % 7, 7, paths[i]) != root
        assert root_from_path(LEAVES[(i + 1) % 7], i, 7, paths[i]) != root
        assert root_from_path(LEAVES[i], i, 7, paths[i][:-1]) != root
    assert root_from_path(LEAVES[0], 7, 7, paths[0]) is None  # index beyond the tree
    assert root_from_path(LEAVES[0], 0, 1, [LEAVES[1]]) is None  # a path longer than the tree is high


@pytest.fixture(scope="module")
def receipt_key() -> tuple[SoftwareKey, x509.Certificate]:
    return gateway_key()


def statements(n: int, batch: str = "a") -> list[bytes]:
    return [canonical_json({"receipt_id": f"{batch}{i}", "verdict": "PASSED", "purpose": "企业开办"}) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 16, 33])
def test_every_receipt_of_a_batch_checks_on_its_own(receipt_key: tuple[SoftwareKey, x509.Certificate], n: int) -> None:
    key, cert = receipt_key
    signed = sign_receipts(key, statements(n))
    assert len({s.signature for s in signed}) == 1  # one signature for the batch
    for i, s in enumerate(signed):
        parsed = check_receipt(s.statement, s.signature, certificate=cert, algorithm=s.algorithm, proof=s.proof)
        assert parsed["receipt_id"] == f"a{i}"
        assert struct.unpack(">II", s.proof[:8]) == (i, n)


def test_moved_or_changed_receipts_are_refused(receipt_key: tuple[SoftwareKey, x509.Certificate]) -> None:
    key, cert = receipt_key
    a, b = sign_receipts(key, statements(5, "a")), sign_receipts(key, statements(5, "b"))
    alg = a[0].algorithm

    def refused(statement: bytes, signature: bytes, proof: bytes) -> None:
        with pytest.raises(InvalidSignature):
            check_receipt(statement, signature, certificate=cert, algorithm=alg, proof=proof)

    refused(a[1].statement.replace(b"PASSED", b"FAILED"), a[1].signature, a[1].proof)  # changed statement
    refused(a[1].statement, a[1].signature, a[2].proof)  # another receipt's proof
    refused(a[1].statement, b[1].signature, a[1].proof)  # another batch's signature
    refused(b[1].statement, a[1].signature, a[1].proof)  # a statement of another batch
    refused(a[1].statement, a[1].signature, struct.pack(">II", 1, 6) + a[1].proof[8:])  # another size
    refused(a[1].statement, a[1].signature, a[1].proof[:-1])  # not whole hashes
    refused(a[1].statement, a[1].signature, a[1].proof[:8])  # no path
    refused(a[1].statement, a[1].signature, b"\x00" * 3)  # not even an index and a size
    refused(a[1].statement, a[1].signature, b"")  # read as a single-signed receipt: the signature is the batch's


def test_single_signed_receipts_still_check(receipt_key: tuple[SoftwareKey, x509.Certificate]) -> None:
    key, cert = receipt_key
    statement = statements(1)[0]
    signature = key.sign(b"zzgw-receipt/1\n" + statement)  # a receipt stored before batches
    assert check_receipt(statement, signature, certificate=cert, algorithm=key.algorithm)["receipt_id"] == "a0"
    with pytest.raises(InvalidSignature):
        check_receipt(statement + b" ", signature, certificate=cert, algorithm=key.algorithm)
    one = sign_receipt(key, {"receipt_id": "r", "verdict": "PASSED"})
    assert check_receipt(one.statement, one.signature, certificate=cert, algorithm=one.algorithm, proof=one.proof)


def test_a_batch_is_never_empty(receipt_key: tuple[SoftwareKey, x509.Certificate]) -> None:
    with pytest.raises(ValueError):
        sign_receipts(receipt_key[0], [])


def test_no_statement_a_checker_refuses_is_signed(receipt_key: tuple[SoftwareKey, x509.Certificate]) -> None:
    """A statement over MAX_STATEMENT bytes fails every check (SIGNATURE_INVALID): signing one makes a genuine receipt
    that reads as forged, which the gateway had done (a receipts tester)."""
    key, cert = receipt_key
    largest = b'{"q":"' + b"A" * (MAX_STATEMENT - 8) + b'"}'
    assert len(largest) == MAX_STATEMENT
    [signed] = sign_receipts(key, [largest])
    assert check_receipt(
        signed.statement, signed.signature, certificate=cert, algorithm=key.algorithm, proof=signed.proof
    )
    larger = b'{"q":"' + b"A" * (MAX_STATEMENT - 7) + b'"}'
    with pytest.raises(ValueError, match="larger than any receipt"):
        sign_receipts(key, [largest, larger])


def test_the_nesting_a_statement_may_have_is_told_without_parsing_and_the_gateway_signs_none_deeper() -> None:
    """``too_deep`` counts arrays and objects, the statement itself included, and no bracket inside a string (an
    escaped quote does not end one); the gateway refuses to sign what every checker fails (a receipts reviewer, R2)."""

    def statement(depth: int, inside: str = "") -> bytes:  # ``depth`` levels in all
        return canonical_json({"receipt_id": "R", "s": inside}).replace(
            b"}", b',"x":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
        )

    assert not too_deep(statement(MAX_DEPTH)) and too_deep(statement(MAX_DEPTH + 1))
    assert not too_deep(statement(MAX_DEPTH, inside='\\"[{' * 1000))  # brackets in a string: not nesting
    assert too_deep(b'{"a":' + b"[" * 30_000)  # not JSON either: refused all the same
    assert not too_deep(canonical_json({"a": [[1, {"b": [2]}]] * 500}))  # many brackets, shallow
    key, _ = gateway_key()
    sign_receipts(key, [statement(MAX_DEPTH)])
    with pytest.raises(ValueError, match=f"deeper than {MAX_DEPTH}"):
        sign_receipts(key, [statement(MAX_DEPTH + 1)])


def test_an_unclosed_string_is_read_once_to_its_end() -> None:
    """A string never closed reads to the statement's end, its brackets uncounted, in one pass: the pattern of closed
    strings alone had read it again from each of its escaped quotes, 24 s of CPU (the GIL held) for 64 KiB, before
    any signature was checked (a review of the fix, R1). Bounded here at 2 s of this process's CPU, a hundredth."""
    unclosed = b'{"a":"' + b'\\"[' * ((MAX_STATEMENT - 8) // 3)
    started = time.process_time()
    assert not too_deep(unclosed) and not too_deep(unclosed + b"\\")
    assert too_deep(b'{"a":' + b"[" * 70 + b'"\\"')  # the brackets before it still count
    assert time.process_time() - started < 2.0


def test_a_statement_in_utf_16_is_no_statement(receipt_key: tuple[SoftwareKey, x509.Certificate]) -> None:
    """json.loads reads UTF-16 and UTF-32 bytes too, whose brackets ``too_deep`` does not count; a statement is
    canonical UTF-8, and is read as such (a review of the fix, R5): one 8,000 deep in UTF-16 had reached the parser."""
    key, certificate = receipt_key
    # U+2200 in UTF-16LE is the bytes 00 22: a quote to a reader of bytes, which reads the brackets as in a string
    statement = ('{"a":"\u2200","x":' + "[" * 8000 + "]" * 8000 + "}").encode("utf-16-le")
    assert not too_deep(statement)
    with pytest.raises(RecursionError):
        json.loads(statement)  # what the check had read it with
    signature = key.sign(b"zzgw-receipt/1\n" + statement)  # signed by whoever holds a key, as a single receipt
    with pytest.raises(InvalidSignature, match="not JSON"):
        check_receipt(statement, signature, certificate=certificate, algorithm=key.algorithm)
