"""Parallel /keys/claim: each one-time key goes to exactly one claimer, then the fallback.

docs/encryption.md: "Each one-time key goes to one claimer only (an atomic
`DELETE … RETURNING`, with `FOR UPDATE SKIP LOCKED` on PostgreSQL), then the fallback key".
The claims run concurrently through the in-process app on both engines.
"""

import asyncio

import pytest

from tests.helpers.e2ee import SIGNED_CURVE25519, FakeDevice, JsonDict, claim_one, upload_keys
from tests.helpers.matrix import MatrixTestClient


@pytest.mark.parametrize(
    ("claims", "one_time_keys"),
    [(8, 16), (16, 16), (24, 8), (12, 1)],
    ids=["fewer-claims-than-keys", "as-many-claims-as-keys", "more-claims-than-keys", "one-key"],
)
async def test_parallel_claims_hand_out_each_key_once_then_the_fallback(
    alice: MatrixTestClient,
    bob: MatrixTestClient,
    carol: MatrixTestClient,
    claims: int,
    one_time_keys: int,
) -> None:
    device = FakeDevice.of(bob)
    otks = device.one_time_keys(one_time_keys)
    fallback = device.fallback_keys()
    await upload_keys(
        bob, device_keys=device.device_keys(), one_time_keys=otks, fallback_keys=fallback
    )
    claimers = (alice, carol)

    got: list[JsonDict] = await asyncio.gather(
        *(claim_one(claimers[i % 2], bob.user_id, bob.device_id) for i in range(claims))
    )

    assert all(len(g) == 1 for g in got), got
    handed_out = [key_id for g in got for key_id in g]
    from_pool = [key_id for key_id in handed_out if key_id in otks]
    assert len(from_pool) == min(claims, one_time_keys)
    assert len(set(from_pool)) == len(from_pool), "a one-time key was handed out twice"
    for g in got:
        ((key_id, key),) = g.items()
        assert key == (otks[key_id] if key_id in otks else fallback[key_id])
    fallbacks = [g for g in got if next(iter(g)) in fallback]
    assert len(fallbacks) == claims - min(claims, one_time_keys)

    left = one_time_keys - min(claims, one_time_keys)
    assert await upload_keys(bob) == {SIGNED_CURVE25519: left}
    sync = await bob.sync()
    assert sync["device_one_time_keys_count"] == {SIGNED_CURVE25519: left}
    expected_unused = [] if fallbacks else [SIGNED_CURVE25519]
    assert sync["device_unused_fallback_key_types"] == expected_unused


async def test_parallel_claims_across_two_devices_never_mix_them_up(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    bob_device, carol_device = FakeDevice.of(bob), FakeDevice.of(carol)
    bob_keys, carol_keys = bob_device.one_time_keys(6), carol_device.one_time_keys(6)
    await upload_keys(bob, device_keys=bob_device.device_keys(), one_time_keys=bob_keys)
    await upload_keys(carol, device_keys=carol_device.device_keys(), one_time_keys=carol_keys)

    body = {
        "one_time_keys": {
            bob.user_id: {bob.device_id: SIGNED_CURVE25519},
            carol.user_id: {carol.device_id: SIGNED_CURVE25519},
        }
    }
    responses = await asyncio.gather(
        *(alice.ok("POST", "/keys/claim", json=body) for _ in range(9))
    )

    from_bob = [
        k for r in responses for k in r["one_time_keys"].get(bob.user_id, {}).get(bob.device_id, {})
    ]
    from_carol = [
        k
        for r in responses
        for k in r["one_time_keys"].get(carol.user_id, {}).get(carol.device_id, {})
    ]
    assert sorted(from_bob) == sorted(bob_keys)  # 6 keys, then nothing (no fallback)
    assert sorted(from_carol) == sorted(carol_keys)
