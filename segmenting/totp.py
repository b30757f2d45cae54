"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): the maintainers' second factor.

Only the profile FreeRADIUS 3.2's ``rlm_totp`` checks, which is also the authenticator apps'
default: HMAC-SHA-1, 6 digits, 30 s steps from the Unix epoch, the secret given in base32
(RFC 4648 §6, as in ``otpauth://`` URIs). Pure functions: the time is an argument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random

STEP_S = 30
DIGITS = 6
# RFC 4226 §4 R6 asks for at least 128 bits and recommends 160: the HMAC-SHA-1 block-size-free
# optimum. 20 bytes are 32 base32 characters, no padding.
SECRET_BYTES = 20


class TotpSecretError(ValueError):
    """A TOTP secret that is not base32 of at least 128 bits."""


def decode_secret(secret: str) -> bytes:
    """The key bytes of a base32 secret (upper case, optional ``=`` padding); fails closed."""
    text = secret.strip().upper()
    try:
        key = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as exc:
        raise TotpSecretError(f"not a base32 TOTP secret ({exc})") from None
    if len(key) < 16:
        raise TotpSecretError(f"TOTP secret of {len(key) * 8} bits; RFC 4226 asks for at least 128")
    return key


def new_secret() -> str:
    """A random secret for a new maintainer, in the base32 form authenticator apps take."""
    return base64.b32encode(_random.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226 §5.3: HMAC-SHA-1 of the 8-byte counter, dynamic truncation, ``digits`` digits."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    start = mac[-1] & 0x0F
    value = int.from_bytes(mac[start : start + 4], "big") & 0x7FFF_FFFF
    return str(value % 10**digits).zfill(digits)


def code(secret: str, at: float, digits: int = DIGITS, step: int = STEP_S) -> str:
    """The code an authenticator shows at Unix time ``at`` for the base32 ``secret``."""
    return hotp(decode_secret(secret), int(at) // step, digits)


def seconds_left(at: float, step: int = STEP_S) -> float:
    """How long the code of time ``at`` stays the current one."""
    return step - (at % step)


__all__ = ["DIGITS", "STEP_S", "TotpSecretError", "code", "decode_secret", "hotp", "new_secret", "seconds_left"]
