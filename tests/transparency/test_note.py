"""C2SP signed notes (Ed25519) against the published vectors, plus edge cases and properties.

The vectors are read from tests/data/transparency (see tests/data/README.md): key IDs, vkey
parsing (11 valid, 78 invalid), skey -> vkey, a deterministic signature and 24 notes to
open, one given as raw bytes (golang/mod, transparency-dev/formats and C2SP examples, the
real sum.golang.org tree head).
"""

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.transparency.note import (
    MAX_SIGNATURES,
    AmbiguousKey,
    InvalidKey,
    InvalidSignature,
    MalformedNote,
    Note,
    NoteError,
    Signature,
    Signer,
    TooManySignatures,
    UnverifiedNote,
    Verifier,
    generate_key,
    key_id,
    open_note,
    sign_note,
    valid_key_name,
)
from tests.helpers.testdata import data_path

VECTORS = data_path("transparency")
NOTES: Any = json.loads((VECTORS / "signed_note_vectors.json").read_text())

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER = Signer.parse(PETER_SKEY)
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"


def cases(section: str) -> list[Any]:
    return [pytest.param(entry, id=entry["desc"]) for entry in NOTES[section]]


def refs(signatures: tuple[Signature, ...]) -> list[str]:
    return [f"{sig.name}+{sig.key_id:08x}" for sig in signatures]


def check_open(note: str | bytes, entry: Any) -> None:
    verifiers = [Verifier.parse(vkey) for vkey in entry["verifier_vkeys"]]
    if not entry["valid"]:
        with pytest.raises(NoteError):
            open_note(note, verifiers)
        return
    opened = open_note(note, verifiers)
    assert refs(opened.verified) == entry["verified"]
    assert refs(opened.unverified) == entry["unverified"]
    text = note.decode() if isinstance(note, bytes) else note
    assert opened.text == text[: text.rindex("\n\n") + 1]


# --- published vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("entry", cases("key_ids"))
def test_key_id_vector(entry: Any) -> None:
    public_key = base64.b64decode(entry["pubkey_b64"])
    assert entry["sig_type"] == 1
    assert key_id(entry["name"], public_key) == int(entry["key_id_hex"], 16)
    assert Verifier(entry["name"], public_key).key_id == int(entry["key_id_hex"], 16)


@pytest.mark.parametrize("entry", cases("vkeys"))
def test_vkey_vector(entry: Any) -> None:
    if entry["valid"]:
        assert str(Verifier.parse(entry["vkey"])) == entry["vkey"]
    else:
        with pytest.raises(InvalidKey):
            Verifier.parse(entry["vkey"])


@pytest.mark.parametrize("entry", cases("skeys"))
def test_skey_vector_gives_its_vkey(entry: Any) -> None:
    signer = Signer.parse(entry["skey"])
    assert str(signer.verifier()) == entry["vkey"]
    assert signer.skey() == entry["skey"]


@pytest.mark.parametrize("entry", cases("sign"))
def test_sign_vector_is_byte_identical(entry: Any) -> None:
    signer = Signer.parse(entry["skey"])
    note = sign_note(entry["text"], signer)
    assert note == entry["want_note"]
    assert open_note(note, [signer.verifier()]).text == entry["text"]


@pytest.mark.parametrize("entry", cases("open"))
def test_open_vector(entry: Any) -> None:
    check_open(entry["note"], entry)


@pytest.mark.parametrize("entry", cases("open_raw_b64"))
def test_open_raw_vector(entry: Any) -> None:
    check_open(base64.b64decode(entry["note_b64"]), entry)


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["example.com/foo", "sum.golang.org", "Ünïcødé", "a", "x\x7fy", "a-b_c.d/e:f"]
)
def test_valid_key_names(name: str) -> None:
    assert valid_key_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a+b",
        "+",
        "a b",
        "a\tb",
        "a\nb",
        "a\x01b",
        "a\u00a0b",
        "a\u2003b",
        "a\u3000b",
        "a\u2028b",
    ],
)
def test_invalid_key_names(name: str) -> None:
    assert not valid_key_name(name)
    with pytest.raises(InvalidKey):
        Verifier(name, bytes(32))
    with pytest.raises(InvalidKey):
        Signer(name, bytes(32))


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_key_material_must_be_32_bytes(size: int) -> None:
    with pytest.raises(InvalidKey):
        Verifier("log", bytes(size))
    with pytest.raises(InvalidKey):
        Signer("log", bytes(size))


def test_key_id_uppercase_hex_is_not_canonical() -> None:
    with pytest.raises(InvalidKey):
        Verifier.parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_vkey_with_non_canonical_base64_is_rejected() -> None:
    # A stray "=" after a complete 44-symbol encoding: same bytes, second spelling.
    with pytest.raises(InvalidKey):
        Verifier.parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=")


@pytest.mark.parametrize(
    "skey",
    [
        pytest.param(PETER_SKEY.removeprefix("PRIVATE+KEY+"), id="no PRIVATE+KEY+ prefix"),
        pytest.param(PETER_SKEY.replace("PRIVATE", "private"), id="lowercase prefix"),
        pytest.param(PETER_SKEY.replace("c74f20a3", "c74f20a4"), id="wrong key ID"),
        pytest.param(PETER_SKEY.replace("PeterNeumann", "PeterNeumanm"), id="renamed"),
        pytest.param(PETER_SKEY.replace("+AYEK", "+ZYEK"), id="unknown algorithm"),
        pytest.param(PETER_SKEY[:-4], id="truncated seed"),
        pytest.param("PRIVATE+KEY+", id="prefix only"),
    ],
)
def test_invalid_skeys(skey: str) -> None:
    with pytest.raises(InvalidKey):
        Signer.parse(skey)


def test_signer_repr_hides_the_seed() -> None:
    seed_b64 = PETER_SKEY.rsplit("+", 1)[1]
    assert seed_b64 not in repr(PETER)
    assert PETER.seed.hex() not in repr(PETER)
    assert repr(PETER.seed) not in repr(PETER)


def test_generate_key_gives_a_matching_fresh_pair() -> None:
    skey, vkey = generate_key("candor.example/new-log")
    signer, verifier = Signer.parse(skey), Verifier.parse(vkey)
    assert signer.verifier() == verifier
    assert verifier.name == "candor.example/new-log"
    assert open_note(sign_note("hello\n", signer), [verifier]).text == "hello\n"
    assert generate_key("candor.example/new-log") != (skey, vkey)


def test_generate_key_rejects_an_invalid_name() -> None:
    with pytest.raises(InvalidKey):
        generate_key("bad name")


def test_verify_rejects_a_signature_of_the_wrong_length() -> None:
    signature = PETER.sign(b"message")
    verifier = PETER.verifier()
    assert verifier.verify(b"message", signature)
    assert not verifier.verify(b"message", signature[:-1])
    assert not verifier.verify(b"message", signature + b"\x00")
    assert not verifier.verify(b"massage", signature)


# --- signing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("no final newline", id="no final newline"),
        pytest.param("tab\tinside\n", id="tab"),
        pytest.param("carriage return\r\n", id="CR"),
        pytest.param("nul\x00\n", id="NUL"),
        pytest.param("lone surrogate \ud800\n", id="lone surrogate"),
    ],
)
def test_sign_rejects_invalid_text(text: str) -> None:
    with pytest.raises(MalformedNote):
        sign_note(text, PETER)


def test_text_with_blank_lines_round_trips() -> None:
    text = "first\n\n\nafter two blank lines\n\n"
    note = sign_note(text, PETER)
    assert open_note(note, [PETER.verifier()]).text == text


def test_text_may_be_a_single_newline() -> None:
    assert open_note(sign_note("\n", PETER), [PETER.verifier()]).text == "\n"


# --- opening ----------------------------------------------------------------------------------


def test_open_returns_the_note() -> None:
    line = line_of(PETER)
    raw = base64.b64decode(line.split(" ")[2])
    opened = open_note(TEXT + "\n" + line, [PETER.verifier()])
    assert opened == Note(TEXT, (Signature("PeterNeumann", 0xC74F20A3, raw[4:]),), ())


def test_open_accepts_bytes() -> None:
    assert open_note((TEXT + "\n" + line_of(PETER)).encode(), [PETER.verifier()]).text == TEXT


def test_exactly_max_signatures_are_accepted() -> None:
    note = TEXT + "\n" + line_of(PETER) * MAX_SIGNATURES
    assert refs(open_note(note, [PETER.verifier()]).verified) == ["PeterNeumann+c74f20a3"]
    with pytest.raises(TooManySignatures):
        open_note(note + line_of(PETER), [PETER.verifier()])


def test_too_many_signatures_is_a_malformed_note() -> None:
    assert issubclass(TooManySignatures, MalformedNote)


def test_identical_duplicate_verifiers_are_ambiguous_only_when_used() -> None:
    note = sign_note(TEXT, PETER)
    with pytest.raises(AmbiguousKey):
        open_note(note, [PETER.verifier(), PETER.verifier()])
    enoch = Verifier.parse(ENOCH_VKEY)
    assert open_note(note, [enoch, PETER.verifier(), enoch]).text == TEXT


def line_of(signer: Signer, text: str = TEXT) -> str:
    return sign_note(text, signer).removeprefix(text + "\n")


def test_same_name_other_key_is_unknown_and_ignored() -> None:
    impostor = Signer("PeterNeumann", bytes(range(32)))
    opened = open_note(sign_note(TEXT, PETER) + line_of(impostor), [PETER.verifier()])
    assert refs(opened.unverified) == [f"PeterNeumann+{impostor.key_id:08x}"]


def test_failing_known_signature_rejects_even_with_a_good_one() -> None:
    witness = Signer("candor.example/witness", bytes(range(32)))
    note = sign_note(TEXT, PETER) + line_of(witness, "other text\n")
    with pytest.raises(InvalidSignature):
        open_note(note, [PETER.verifier(), witness.verifier()])
    opened = open_note(note, [PETER.verifier()])
    assert refs(opened.unverified) == [f"candor.example/witness+{witness.key_id:08x}"]


def test_no_verifiers_means_unverified() -> None:
    with pytest.raises(UnverifiedNote):
        open_note(sign_note(TEXT, PETER), [])


@pytest.mark.parametrize(
    "block",
    [
        pytest.param("\u2014 PeterNeumann\n", id="no signature"),
        pytest.param("\u2014 PeterNeumann \n", id="empty signature"),
        pytest.param("\u2014  x08go/ZJ\n", id="empty name"),
        pytest.param("\u2014 Peter+Neumann x08go/ZJ\n", id="plus in name"),
        pytest.param("\u2014 PeterNeumann x08gow==\n", id="only a key ID"),
        pytest.param("\u2014 PeterNeumann x08go/Z=\n", id="non-canonical base64"),
        pytest.param("\u2014 PeterNeumann x08go/ZJ \n", id="trailing space"),
        pytest.param("\u2014 PeterNeumann x08go\u00e9ZJ\n", id="non-ASCII in base64"),
        pytest.param("- PeterNeumann x08go/ZJ\n", id="hyphen instead of em dash"),
        pytest.param("\u2014PeterNeumann x08go/ZJ\n", id="no space after em dash"),
    ],
)
def test_malformed_signature_lines(block: str) -> None:
    with pytest.raises(MalformedNote):
        open_note(TEXT + "\n" + block, [PETER.verifier()])


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("", id="empty"),
        pytest.param("\n", id="newline"),
        pytest.param("\n\n", id="blank line only"),
        pytest.param(TEXT + "\n\n", id="two blank lines"),
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(MalformedNote):
        open_note(note, [PETER.verifier()])


# --- properties -------------------------------------------------------------------------------

# Any text without control characters (newline aside) or surrogates, blank lines included.
lines = st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), max_size=40)
texts = st.lists(lines, min_size=1, max_size=6).map(lambda ls: "\n".join(ls) + "\n")


@given(texts)
def test_sign_then_open_round_trips(text: str) -> None:
    opened = open_note(sign_note(text, PETER), [PETER.verifier()])
    assert opened.text == text
    assert refs(opened.verified) == ["PeterNeumann+c74f20a3"]
    assert opened.unverified == ()


@given(texts, st.data())
def test_flipping_any_byte_makes_open_fail(text: str, data: st.DataObject) -> None:
    note = bytearray(sign_note(text, PETER).encode())
    index = data.draw(st.integers(0, len(note) - 1), label="index")
    note[index] ^= data.draw(st.integers(1, 255), label="xor")
    with pytest.raises(NoteError):
        open_note(bytes(note), [PETER.verifier()])


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["a", "example.com/log", "λ.example"]))
def test_key_strings_round_trip(seed: bytes, name: str) -> None:
    signer = Signer(name, seed)
    assert Signer.parse(signer.skey()) == signer
    assert Verifier.parse(str(signer.verifier())) == signer.verifier()
