"""WeChat signatures and safe-mode (encrypted) messages, on the `cryptography` package.

    signature(token, timestamp, nonce)            # the `signature` query parameter
    signature(token, timestamp, nonce, encrypted) # the `msg_signature` of safe mode
    box = Box(encoding_aes_key, app_id)
    box.decrypt(encrypted) -> xml bytes           # raises CryptoError
    box.encrypt(xml bytes) -> base64 text

Safe mode (WeChat's "安全模式"): the key is base64(EncodingAESKey + "=") (43 characters ->
32 bytes), AES-256-CBC with the first 16 bytes of the key as IV; the plaintext is
16 random bytes + the message length (4 bytes, big-endian) + the message + the app id, padded
with PKCS#7 to a multiple of 32 bytes (not AES's 16). The result is base64.

Callers check msg_signature before decrypting, so a forged payload never reaches the
padding check (no padding oracle).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32          # WeChat's PKCS#7 block size
MAX_ENCRYPTED = 64 * 1024


class CryptoError(ValueError):
    """A payload that does not decrypt to a message for this app (the reason, never the data)."""


def signature(token: str, *parts: str) -> str:
    """sha1 of the token and the parts, sorted and joined: WeChat's signature scheme."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode("utf-8")).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(given.lower().encode("utf-8", "replace"), expected.encode("ascii"))


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey (ValueError when malformed)."""
    text = encoding_aes_key.strip()
    if len(text) != 43:
        raise ValueError("WECHAT_ENCODING_AES_KEY must be 43 characters")
    try:
        key = base64.b64decode(text + "=", validate=True)
    except binascii.Error:
        raise ValueError("WECHAT_ENCODING_AES_KEY is not valid base64") from None
    if len(key) != 32:
        raise ValueError("WECHAT_ENCODING_AES_KEY must decode to 32 bytes")
    return key


def pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def unpad(data: bytes) -> bytes:
    if not data or len(data) % BLOCK:
        raise CryptoError("bad length")
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise CryptoError("bad padding")
    return data[:-n]


class Box:
    """Encrypts and decrypts safe-mode payloads for one app id."""

    def __init__(self, encoding_aes_key: str, app_id: str):
        self.key = aes_key(encoding_aes_key)
        self.app_id = app_id.encode("utf-8")

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: bytes, random: bytes | None = None) -> str:
        """`random` (16 bytes) is for test vectors only; by default os.urandom."""
        random = os.urandom(16) if random is None else random
        if len(random) != 16:
            raise ValueError("random must be 16 bytes")
        plain = pad(random + struct.pack(">I", len(message)) + message + self.app_id)
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside `encrypted`. CryptoError when it is not base64, does not
        decrypt, or was made for another app id."""
        if len(encrypted) > MAX_ENCRYPTED:
            raise CryptoError("too long")
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("not base64") from None
        if not raw or len(raw) % 16:
            raise CryptoError("bad length")
        dec = self._cipher().decryptor()
        plain = unpad(dec.update(raw) + dec.finalize())
        if len(plain) < 20:
            raise CryptoError("too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CryptoError("bad message length")
        message, app_id = plain[20:20 + length], plain[20 + length:]
        if not hmac.compare_digest(app_id, self.app_id):
            raise CryptoError("app id mismatch")
        return message
