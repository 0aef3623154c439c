"""Public ids that encode a row: a keyed, invertible permutation of 64-bit integers.

An id names the merchant and the row without a lookup table, so a million transactions need no
index in memory, and ids look random rather than sequential.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import numpy.typing as npt

MASK = (1 << 64) - 1
MERCHANT_SHIFT = 40
ROW_MASK = (1 << MERCHANT_SHIFT) - 1
HEX_DIGITS = re.compile(r"[0-9a-f]{16}")


class IdCodec:
    """Encodes (merchant, row) as `<prefix>_<16 hex digits>` and back."""

    def __init__(self, seed: int, prefix: str) -> None:
        digest = hashlib.blake2b(f"{seed}:{prefix}".encode(), digest_size=24).digest()
        self.seed = seed
        self.prefix = prefix
        self._a1 = int.from_bytes(digest[0:8], "big") | 1
        self._b1 = int.from_bytes(digest[8:16], "big")
        self._a2 = int.from_bytes(digest[16:24], "big") | 1
        self._a1_inv = pow(self._a1, -1, 1 << 64)
        self._a2_inv = pow(self._a2, -1, 1 << 64)

    def _permute(self, x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        x = x * np.uint64(self._a1) + np.uint64(self._b1)
        x ^= x >> np.uint64(31)
        x = x * np.uint64(self._a2)
        return x ^ (x >> np.uint64(29))

    def permuted(self, merchant_no: int, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
        """The 64-bit numbers behind the ids of many rows of one merchant."""
        return self._permute(rows.astype(np.uint64) | np.uint64(merchant_no << MERCHANT_SHIFT))

    def encode_many(self, merchant_no: int, rows: npt.NDArray[np.int64]) -> list[str]:
        """The ids of many rows of one merchant."""
        prefix = self.prefix
        return [f"{prefix}_{x:016x}" for x in self.permuted(merchant_no, rows).tolist()]

    def encode(self, merchant_no: int, row: int) -> str:
        return self.encode_many(merchant_no, np.asarray([row], dtype=np.int64))[0]

    def decode(self, text: str) -> tuple[int, int] | None:
        """(merchant, row) of an id, or None when it is not one of ours."""
        head, _, digits = text.partition("_")
        if head != self.prefix or not HEX_DIGITS.fullmatch(digits):
            return None
        x = int(digits, 16)
        x ^= (x >> 29) ^ (x >> 58)
        x = (x * self._a2_inv) & MASK
        x ^= (x >> 31) ^ (x >> 62)
        value = ((x - self._b1) * self._a1_inv) & MASK
        return value >> MERCHANT_SHIFT, value & ROW_MASK
