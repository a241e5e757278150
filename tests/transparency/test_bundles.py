"""C2SP entry bundles: appends give the bundles of the whole sequence however they are
batched, a bundle reads back as its entries (and any prefix of it as a partial bundle),
and malformed bundles, oversized entries and empty appends are refused."""

from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candor.config import Settings
from candor.store.db import Database
from candor.transparency.log import TransparencyLog
from candor.transparency.tiles import (
    MAX_ENTRY,
    TILE_WIDTH,
    append_bundles,
    bundle_entries,
    bundle_prefix,
)


def reference_bundles(entries: Sequence[bytes]) -> dict[int, bytes]:
    """The C2SP entry bundles of a whole log, written out from the spec."""
    return {
        n: b"".join(len(e).to_bytes(2, "big") + e for e in entries[at : at + TILE_WIDTH])
        for n, at in enumerate(range(0, len(entries), TILE_WIDTH))
    }


def entry(i: int, length: int) -> bytes:
    """A distinct entry of about `length` bytes (empty entries included)."""
    return (i.to_bytes(4, "big") * (length // 4 + 1))[:length]


def append_in_batches(entries: Sequence[bytes], sizes: Sequence[int]) -> dict[int, bytes]:
    """Append `entries` in batches of `sizes`, carrying the rightmost bundle as the log does."""
    stored: dict[int, bytes] = {}
    size = 0
    for n in sizes:
        batch = entries[size : size + n]
        rightmost = stored.get(size // TILE_WIDTH, b"") if size % TILE_WIDTH else b""
        written = append_bundles(size, rightmost, batch)
        assert set(written) == set(range(size // TILE_WIDTH, (size + n - 1) // TILE_WIDTH + 1))
        stored.update(written)
        size += n
    return stored


@st.composite
def batched_log(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    sizes = draw(st.lists(st.integers(1, 300), min_size=1, max_size=6))
    lengths = st.sampled_from([0, 1, 2, 31, 255, 256, 1000])
    entries = [entry(i, draw(lengths)) for i in range(sum(sizes))]
    return entries, sizes


@settings(max_examples=60, deadline=None)
@given(batched_log())
def test_appends_give_the_bundles_of_the_whole_log_whatever_the_batching(
    log: tuple[list[bytes], list[int]],
) -> None:
    entries, sizes = log

    assert append_in_batches(entries, sizes) == reference_bundles(entries)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=300), max_size=TILE_WIDTH), st.data())
def test_a_bundle_reads_back_as_its_entries_and_any_prefix_as_a_partial_bundle(
    entries: list[bytes], data: st.DataObject
) -> None:
    blob = reference_bundles(entries).get(0, b"")
    count = data.draw(st.integers(0, len(entries)))

    assert bundle_entries(blob) == entries
    assert bundle_prefix(blob, count) == reference_bundles(entries[:count]).get(0, b"")
    assert bundle_entries(bundle_prefix(blob, count)) == entries[:count]
    with pytest.raises(ValueError, match="fewer entries"):
        bundle_prefix(blob, len(entries) + 1)


def test_an_entry_of_the_largest_size_fits() -> None:
    big = b"\xab" * MAX_ENTRY

    (blob,) = append_bundles(0, b"", [big, b""]).values()

    assert blob[:2] == b"\xff\xff"
    assert bundle_entries(blob) == [big, b""]


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x00", "truncated entry length"),
        (b"\x00\x01a\x00", "truncated entry length"),
        (b"\x00\x05abcd", "truncated entry"),
        (b"\x00\x01a\xff\xff" + b"x" * 100, "truncated entry"),
    ],
)
def test_a_truncated_bundle_is_malformed(blob: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        bundle_entries(blob)


@pytest.mark.parametrize(
    ("blob", "count"),
    [
        (b"", 1),  # no length at all
        (b"\x00", 1),  # half a length
        (b"\x00\x05ab", 1),  # the entry runs past the end
        (b"\x00\x01a", 2),  # one entry, not two
    ],
)
def test_a_prefix_longer_than_the_bundle_is_refused(blob: bytes, count: int) -> None:
    with pytest.raises(ValueError, match="fewer entries"):
        bundle_prefix(blob, count)


@pytest.mark.parametrize(
    ("size", "entries"),
    [
        (3, 2),  # the rightmost bundle lost an entry
        (3, 4),  # or holds one too many
        (0, 1),  # a new bundle must start empty
        (TILE_WIDTH, 1),  # and so must the one after a full bundle
        (TILE_WIDTH + 1, 0),
    ],
)
def test_a_rightmost_bundle_with_the_wrong_count_is_refused(size: int, entries: int) -> None:
    rightmost = reference_bundles([entry(i, 3) for i in range(entries)]).get(0, b"")

    with pytest.raises(ValueError, match=f"does not hold {size % TILE_WIDTH} entries"):
        append_bundles(size, rightmost, [b"next"])


def test_a_malformed_rightmost_bundle_is_refused() -> None:
    with pytest.raises(ValueError, match="truncated"):
        append_bundles(1, b"\x00\x09short", [b"next"])


def test_an_entry_over_the_largest_size_is_refused() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_ENTRY} bytes"):
        append_bundles(0, b"", [b"ok", b"x" * (MAX_ENTRY + 1)])


@pytest.fixture
async def log(settings: Settings) -> AsyncIterator[TransparencyLog]:
    db = Database(settings.sqlalchemy_url())
    tlog = TransparencyLog(db)
    await tlog.start()
    yield tlog
    await tlog.stop()
    await db.dispose()


async def test_the_log_refuses_an_oversized_entry_and_appends_nothing(
    log: TransparencyLog,
) -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_ENTRY} bytes"):
        await log.append_many([b"fine", b"x" * (MAX_ENTRY + 1)])
    with pytest.raises(ValueError, match=f"at most {MAX_ENTRY} bytes"):
        await log.append(b"x" * (MAX_ENTRY + 1))

    assert await log.size() == 0
    assert log.batches == 0
    assert await log.append(b"x" * MAX_ENTRY) == 0
    assert await log.entries(0, 1) == [b"x" * MAX_ENTRY]


async def test_the_log_refuses_an_empty_append(log: TransparencyLog) -> None:
    with pytest.raises(ValueError, match="nothing to append"):
        await log.append_many([])

    assert await log.size() == 0
