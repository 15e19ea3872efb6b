"""Merkle tree hashes and inclusion proofs as in Certificate Transparency (RFC 9162 §2.1), over SHA-256.

>>> leaves = [leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")]
>>> root = tree_hash(leaves)
>>> root_from_path(leaves[2], 2, 3, inclusion_path(leaves, 2)) == root
True

A leaf is hashed as SHA-256(0x00 ‖ data) and an inner node as SHA-256(0x01 ‖ left ‖ right), so a leaf can never
pass for a node. A tree of n leaves splits at the largest power of two below n (RFC 9162 §2.1.1); the inclusion
path of leaf m lists the sibling hashes from the leaf up (§2.1.3.1), and the verifier folds them back to the root
(§2.1.3.2). Receipts use this to sign a whole group commit with one signature (``signing.receipts``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH of a non-empty list of leaf hashes."""
    if not leaves:
        raise ValueError("a tree has at least one leaf")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, leaves): the sibling hashes from leaf ``index`` up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_path(leaves[:k], index), tree_hash(leaves[k:])]
    return [*inclusion_path(leaves[k:], index - k), tree_hash(leaves[:k])]


def all_paths(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root and every leaf's inclusion path, in one pass (each inner node hashed once)."""
    if not leaves:
        raise ValueError("a tree has at least one leaf")
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = _split(len(leaves))
    left, left_paths = all_paths(leaves[:k])
    right, right_paths = all_paths(leaves[k:])
    return _node(left, right), [[*p, right] for p in left_paths] + [[*p, left] for p in right_paths]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` proves ``leaf`` (at ``index`` of ``size``) under, or None when the path cannot be
    one of such a tree (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
