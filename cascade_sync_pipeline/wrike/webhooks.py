"""Receiving Wrike webhooks: the secret handshake answer and the signature check.

Wrike proves a webhook's origin with HMAC-SHA256 keyed by the secret given at registration:
the handshake request carries ``X-Hook-Secret: <challenge>`` and must be answered (HTTP 200) with
``X-Hook-Secret: hex(HMAC(secret, challenge))``; every event POST carries
``X-Hook-Signature: hex(HMAC(secret, raw body))``.
"""

from __future__ import annotations

import hashlib
import hmac


def handshake_answer(secret: str, challenge: str) -> str:
    """The ``X-Hook-Secret`` header value that completes Wrike's webhook handshake."""
    return hmac.new(secret.encode(), challenge.encode(), hashlib.sha256).hexdigest()


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header_value: str | None) -> bool:
    """True when ``X-Hook-Signature`` matches the raw body (constant-time comparison)."""
    if not header_value:
        return False
    return hmac.compare_digest(signature(secret, body), header_value.strip().lower())
