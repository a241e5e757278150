"""Webhook signing secrets: the spec's form, sealed under the server key, opened only by it."""

import base64

import pytest
from standardwebhooks import Webhook

from candor.reports.webhook_secrets import (
    SECRET_BYTES,
    UnsealError,
    new_webhook_secret,
    seal,
    unseal,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def test_new_secret_is_whsec_and_24_random_bytes_the_library_accepts() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == SECRET_BYTES
    Webhook(secret)  # the library parses it
    assert len({new_webhook_secret() for _ in range(50)}) == 50


def test_seal_round_trips() -> None:
    secret = new_webhook_secret()
    assert unseal(seal(secret, KEY), KEY) == secret


def test_sealing_twice_gives_different_values_that_both_open() -> None:
    secret = new_webhook_secret()
    a, b = seal(secret, KEY), seal(secret, KEY)
    assert a != b  # a fresh nonce each time
    assert unseal(a, KEY) == unseal(b, KEY) == secret


def test_the_sealed_form_does_not_contain_the_secret() -> None:
    secret = new_webhook_secret()
    sealed = seal(secret, KEY)
    raw_secret = base64.b64decode(secret.removeprefix("whsec_"))
    assert secret not in sealed
    assert secret.removeprefix("whsec_") not in sealed
    assert raw_secret not in base64.b64decode(sealed)
    assert secret.encode() not in base64.b64decode(sealed)


def test_another_server_key_fails_cleanly() -> None:
    sealed = seal(new_webhook_secret(), KEY)
    with pytest.raises(UnsealError) as info:
        unseal(sealed, OTHER_KEY)
    assert sealed not in str(info.value)


@pytest.mark.parametrize(
    "damaged",
    ["", "not base64!", "AAAA", base64.b64encode(b"x" * 40).decode(), "é"],
)
def test_damaged_sealed_values_fail_cleanly(damaged: str) -> None:
    with pytest.raises(UnsealError):
        unseal(damaged, KEY)


def test_a_flipped_bit_is_detected() -> None:
    raw = bytearray(base64.b64decode(seal(new_webhook_secret(), KEY)))
    raw[-1] ^= 1
    with pytest.raises(UnsealError):
        unseal(base64.b64encode(bytes(raw)).decode(), KEY)
