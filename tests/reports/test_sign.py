"""Detached Ed25519 report signatures: round trip with a real key, re-serialisation passes,
any changed value fails, key pinning, and malformed signature documents fail cleanly."""

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from candor.core.canonical_json import encode_canonical
from candor.reports.document import AppInfo, build, dp_privacy, k_threshold_privacy
from candor.reports.periods import Period
from candor.reports.privacy import DPPlan, ReleasedRow
from candor.reports.sign import (
    SIGNATURE_FORMAT,
    SignatureInvalid,
    canonical,
    parse_json,
    sign,
    verify,
)
from candor.transparency.note import Signer, Verifier, generate_key

ROWS = [
    ReleasedRow("2026-11-10", "web", "player", "a", False, 12, 30, 7, 2),
    ReleasedRow("2026-11-10", "ios", "detail", "b", True, None, None, None, None),
]


def new_signer(name: str = "test.local/candor-log") -> Signer:
    skey, _ = generate_key(name)
    return Signer.parse(skey)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer()


def k_report() -> dict[str, Any]:
    return build(
        report_id="rpt_abcdefghijklmnopqrst",
        issuer="test.local",
        app=AppInfo("app_flix", "StreamFlix", 1),
        period=Period(date(2026, 11, 9), date(2026, 11, 22)),
        generated_at="2026-11-23T00:00:03Z",
        privacy=k_threshold_privacy(10, ROWS),
        rows=ROWS,
    )


def dp_report() -> dict[str, Any]:
    rows = [ReleasedRow("2026-11-10", "web", "player", "a", False, 3, 9, 0, 1)]
    return build(
        report_id="rpt_abcdefghijklmnopqrsu",
        issuer="test.local",
        app=AppInfo("app_flix", "StreamFlix", 2),
        period=Period(date(2026, 11, 9), date(2026, 11, 22)),
        generated_at="2026-11-23T00:00:03Z",
        privacy=dp_privacy(DPPlan.for_epsilon(1.0), 26.0, 1.0),
        rows=rows,
    )


@pytest.mark.parametrize("make", [k_report, dp_report])
def test_sign_then_verify_round_trip(signer: Signer, make: Callable[[], dict[str, Any]]) -> None:
    report = make()

    sig = sign(report, signer)

    assert sig["format"] == SIGNATURE_FORMAT
    assert sig["algorithm"] == "Ed25519"
    assert sig["key"] == str(signer.verifier())
    assert sig["report_id"] == report["report_id"]
    assert sig["sha256"] == hashlib.sha256(encode_canonical(report)).hexdigest()
    assert signer.verifier().verify(canonical(report), base64.b64decode(sig["signature"]))
    assert verify(report, sig, signer.verifier()) == signer.verifier()
    assert verify(report, sig, None) == signer.verifier()


def test_canonical_bytes_are_one_sorted_compact_line(signer: Signer) -> None:
    body = canonical(k_report())

    assert body.startswith(b"{")
    assert b"\n" not in body
    assert body == json.dumps(k_report(), sort_keys=True, separators=(",", ":")).encode()


def test_verify_after_pretty_printing_and_reordering_keys(signer: Signer) -> None:
    report = k_report()
    sig = sign(report, signer)
    pretty = json.dumps(report, indent=4, sort_keys=False)
    reordered = dict(reversed(list(json.loads(pretty).items())))
    reordered["rows"] = [dict(reversed(list(r.items()))) for r in reordered["rows"]]
    sig_pretty = json.loads(json.dumps(sig, indent=2))

    assert verify(parse_json(pretty.encode(), "report"), sig_pretty, signer.verifier())
    assert verify(reordered, sig, signer.verifier())


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


CHANGES = {
    "a count": _set(("rows", 0, "sends"), 13),
    "a total": _set(("totals", "first_clicks"), 6),
    "a label": _set(("rows", 0, "variant"), "b"),
    "a suppressed row revealed": _set(("rows", 1, "suppressed"), False),
    "the period start": _set(("period", "start"), "2026-11-08"),
    "the period end": _set(("period", "end"), "2026-11-23"),
    "k": _set(("privacy", "k"), 5),
    "the method": _set(("privacy", "method"), "differential_privacy"),
    "the app": _set(("app", "name"), "OtherFlix"),
    "the issuer": _set(("issuer",), "evil.example"),
    "the report id": _set(("report_id",), "rpt_zzzzzzzzzzzzzzzzzzzz"),
    "a ctr": _set(("rows", 0, "ctr"), 0.2334),
    "an int turned float": _set(("rows", 0, "sends"), 12.0),
    "an extra field": _set(("rows", 0, "user_id"), "@alice:test.local"),
    "a dropped row": lambda doc: doc["rows"].pop(),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_changed_value_fails(signer: Signer, change: Callable[[dict[str, Any]], None]) -> None:
    report = k_report()
    sig = sign(report, signer)
    changed = copy.deepcopy(report)
    change(changed)
    assert changed != report or changed["rows"][0]["sends"] == 12.0

    with pytest.raises(SignatureInvalid, match="does not match this report"):
        verify(changed, sig, signer.verifier())
    with pytest.raises(SignatureInvalid, match="does not match this report"):
        verify(changed, sig, None)


DP_CHANGES = {
    "epsilon": _set(("privacy", "epsilon"), 0.5),
    "a scale": _set(("privacy", "scales", "sends"), 4.0),
    "the bound": _set(("privacy", "contribution_bound"), 100),
    "the budget": _set(("privacy", "budget", "spent"), 0.0),
    "the cap": _set(("privacy", "recipients_cap"), 200),
}


@pytest.mark.parametrize("change", DP_CHANGES.values(), ids=DP_CHANGES.keys())
def test_changed_privacy_parameters_fail(
    signer: Signer, change: Callable[[dict[str, Any]], None]
) -> None:
    report = dp_report()
    sig = sign(report, signer)
    change(report)

    with pytest.raises(SignatureInvalid):
        verify(report, sig, signer.verifier())


def test_another_key_fails_when_a_key_is_pinned(signer: Signer) -> None:
    report = k_report()
    other = new_signer()  # same name, different key
    sig = sign(report, other)

    with pytest.raises(SignatureInvalid, match="not by the pinned key") as info:
        verify(report, sig, signer.verifier())
    assert str(other.verifier()) in str(info.value)


def test_another_name_with_the_same_key_fails_when_pinned(signer: Signer) -> None:
    report = k_report()
    renamed = Signer("evil.example/candor-log", signer.seed)

    with pytest.raises(SignatureInvalid, match="not by the pinned key"):
        verify(report, sign(report, renamed), signer.verifier())


def test_without_a_pinned_key_the_signer_is_named(signer: Signer) -> None:
    report = k_report()
    other = new_signer("someone.else/log")

    named = verify(report, sign(report, other), None)

    assert named == other.verifier()
    assert named != signer.verifier()


def test_a_signature_claiming_a_key_it_was_not_made_with_fails(signer: Signer) -> None:
    report = k_report()
    sig = sign(report, new_signer())
    sig["key"] = str(signer.verifier())  # relabel: the pinned key, but not its signature

    with pytest.raises(SignatureInvalid, match="does not match"):
        verify(report, sig, signer.verifier())


def _sig_change(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(sig: dict[str, Any]) -> None:
        if value is None:
            del sig[field]
        else:
            sig[field] = value

    return change


MALFORMED = {
    "wrong format": (_sig_change("format", "candor.report-signature/v2"), "format"),
    "no format": (_sig_change("format", None), "format"),
    "wrong algorithm": (_sig_change("algorithm", "RSA"), "algorithm"),
    "bad base64": (_sig_change("signature", "not base64!!"), "not base64"),
    "base64 of nothing": (_sig_change("signature", ""), "does not match"),
    "short signature": (_sig_change("signature", base64.b64encode(b"x" * 10).decode()), "match"),
    "no signature": (_sig_change("signature", None), "does not match"),
    "bad key string": (_sig_change("key", "not-a-key"), "key is malformed"),
    "no key": (_sig_change("key", None), "key is malformed"),
    "key with edited id": (None, "key is malformed"),
    "wrong sha256": (_sig_change("sha256", "00" * 32), "sha256"),
    "no sha256": (_sig_change("sha256", None), "sha256"),
    "numeric signature": (_sig_change("signature", 12345), "not base64"),
}


@pytest.mark.parametrize(("change", "message"), MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("pinned", [True, False])
def test_malformed_signature_documents_fail_cleanly(
    signer: Signer,
    change: Callable[[dict[str, Any]], None] | None,
    message: str,
    pinned: bool,
) -> None:
    report = k_report()
    sig: dict[str, Any] = sign(report, signer)
    if change is None:
        name, key_id, rest = sig["key"].split("+", 2)
        sig["key"] = f"{name}+{int(key_id, 16) ^ 1:08x}+{rest}"
    else:
        change(sig)

    with pytest.raises(SignatureInvalid, match=message):
        verify(report, sig, signer.verifier() if pinned else None)


def test_verifier_type_is_returned(signer: Signer) -> None:
    report = k_report()

    assert isinstance(verify(report, sign(report, signer), None), Verifier)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "is not JSON"),
        (b"{", "is not JSON"),
        (b"not json", "is not JSON"),
        (b"\xff\xfe", "is not JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'"rpt_x"', "is not a JSON object"),
        (b"null", "is not a JSON object"),
        (b"42", "is not a JSON object"),
    ],
)
def test_parse_json_refuses_non_json_and_non_objects(raw: bytes, message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message) as info:
        parse_json(raw, "report.json")
    assert str(info.value).startswith("report.json ")


def test_parse_json_returns_the_object() -> None:
    assert parse_json(b' {"a": [1, {"b": null}]}\n', "x") == {"a": [1, {"b": None}]}


def test_a_signature_file_for_another_report_is_refused(signer: Signer) -> None:
    report = k_report()
    sig = sign(report, signer)
    sig["report_id"] = "rpt_someotherreport0000"
    with pytest.raises(SignatureInvalid, match="another report"):
        verify(report, sig, signer.verifier())


def test_a_file_that_repeats_a_key_is_refused() -> None:
    raw = b'{"report_id": "rpt_a", "report_id": "rpt_b"}'
    with pytest.raises(SignatureInvalid, match="repeats a key"):
        parse_json(raw, "report.json")
