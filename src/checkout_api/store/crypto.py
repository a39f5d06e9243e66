"""Client secrets at rest: AES-256-GCM, so a database dump alone does not reveal them.

The key is DATA_ENCRYPTION_KEY (32 bytes, urlsafe base64) when set, else derived with HKDF from
the Stripe secret key: a dump without the service's environment stays useless either way.
Each ciphertext is bound to its Stripe session id (associated data) and tagged with a short
key id, so rows written under an older key are recognised as undecryptable (the service then
fetches the secret from Stripe) instead of failing.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
NONCE_BYTES = 12
KEY_ID_BYTES = 4


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the encryption key must be 32 bytes")
        self._aead = AESGCM(key)
        self._key_id = hashlib.sha256(key).digest()[:KEY_ID_BYTES]

    @classmethod
    def from_config(cls, encryption_key: str | None, stripe_secret_key: str) -> SecretBox:
        if encryption_key:
            return cls(base64.urlsafe_b64decode(encryption_key + "=" * (-len(encryption_key) % 4)))
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"checkout-api/v1")
        return cls(hkdf.derive(stripe_secret_key.encode()))

    def seal(self, plaintext: str, *, bound_to: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())
        return VERSION + self._key_id + nonce + sealed

    def open(self, blob: bytes | None, *, bound_to: str) -> str | None:
        """The plaintext, or None when absent or sealed under another key."""
        if not blob or blob[:1] != VERSION or blob[1 : 1 + KEY_ID_BYTES] != self._key_id:
            return None
        start = 1 + KEY_ID_BYTES
        nonce, sealed = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, bound_to.encode()).decode()
        except InvalidTag:
            return None
