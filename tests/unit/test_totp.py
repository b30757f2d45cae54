"""segmenting.totp against the test vectors of RFC 4226 (Appendix D) and RFC 6238 (Appendix B, SHA-1)."""

from __future__ import annotations

import base64

import pytest

from segmenting import totp

RFC_KEY = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("counter", "expected"),
    [(0, "755224"), (1, "287082"), (2, "359152"), (3, "969429"), (9, "520489")],
)
def test_hotp_rfc4226_vectors(counter: int, expected: str) -> None:
    assert totp.hotp(b"12345678901234567890", counter) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
     (2000000000, "69279037"), (20000000000, "65353130")],
)  # fmt: skip
def test_totp_rfc6238_sha1_vectors(at: int, expected: str) -> None:
    assert totp.code(RFC_KEY, at, digits=8) == expected


def test_six_digits_are_the_last_six_and_the_step_is_30_s() -> None:
    assert totp.code(RFC_KEY, 59) == "287082"
    assert totp.code(RFC_KEY, 30) == totp.code(RFC_KEY, 59) != totp.code(RFC_KEY, 60)
    assert totp.seconds_left(59) == 1 and totp.seconds_left(60) == 30


def test_new_secrets_are_160_bit_base32_and_differ() -> None:
    a, b = totp.new_secret(), totp.new_secret()
    assert a != b and len(a) == 32 and len(totp.decode_secret(a)) == 20
    assert totp.decode_secret(a.lower()) == totp.decode_secret(a)


@pytest.mark.parametrize("bad", ["", "ABCDEFGH", "not base32!", "0189" * 8])
def test_bad_secrets_fail_closed(bad: str) -> None:
    with pytest.raises(totp.TotpSecretError):
        totp.decode_secret(bad)
