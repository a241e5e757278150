"""`candor partner` in-process on both engines: create (JSON and human output), approve,
suspend, list, and one-line errors (exit 1) that change nothing."""

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from candor.cli.main import app
from candor.config import load_settings
from candor.partners.apps.service import Agreement
from candor.reports.delivery_repository import get_webhook_target
from candor.reports.webhook_secrets import unseal
from candor.wiring import build_homeserver, build_services

pytestmark = pytest.mark.usefixtures("clean_candor_env")

FLIX = [
    "--name",
    "Flix",
    "--redirect-uri",
    "https://flix.example/cb",
    "--domain",
    "flix.example",
    "--scope",
    "profile share",
]


@pytest.fixture
def db(tmp_path: Path, database_url: str) -> list[str]:
    return ["--data-dir", str(tmp_path / "d"), "--database-url", database_url]


def partner(*args: str) -> Result:
    return CliRunner().invoke(app, ["partner", *args])


def one_line_error(result: Result, word: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error:"), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert word in result.stderr
    assert "Traceback" not in result.output


def test_create_json_then_approve_suspend_and_list(db: list[str]) -> None:
    made = partner("create", *FLIX, "--json", *db)
    public = partner("create", *FLIX, "--public", "--json", *db)

    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert set(created) == {"client_id", "client_secret"}
    assert created["client_secret"].startswith("cdr_cs_")
    assert json.loads(public.stdout)["client_secret"] is None

    approved = partner("approve", created["client_id"], *db)
    assert approved.exit_code == 0, approved.output
    assert f"({created['client_id']}) is approved" in approved.stdout
    suspended = partner("suspend", created["client_id"], *db)
    assert suspended.exit_code == 0, suspended.output
    assert "is suspended" in suspended.stdout

    listing = partner("list", *db)
    assert listing.exit_code == 0, listing.output
    assert "suspended" in listing.stdout
    assert "pending" in listing.stdout


def test_human_output_shows_the_secret_on_one_line(db: list[str]) -> None:
    made = partner("create", *FLIX, "--homepage", "https://flix.example", *db)

    assert made.exit_code == 0, made.output
    assert "created Flix (pending)" in made.stdout
    (line,) = [x for x in made.stdout.splitlines() if x.startswith("client_secret")]
    assert "cdr_cs_" in line
    assert "(shown once)" in line


def test_a_public_client_prints_no_secret(db: list[str]) -> None:
    made = partner("create", *FLIX, "--public", *db)

    assert made.exit_code == 0, made.output
    assert "client_secret" not in made.stdout


@pytest.mark.parametrize(
    ("change", "word"),
    [
        (["--redirect-uri", "http://flix.example/cb"], "https"),
        (["--redirect-uri", "https://flix.example/cb#x"], "fragment"),
        (["--domain", "not a domain"], "domain"),
        (["--scope", "profile everything"], "everything"),
        (["--retention-days", "0"], "retention"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    db: list[str], change: list[str], word: str
) -> None:
    args = [*FLIX]
    flag = change[0]
    i = args.index(flag) if flag in args else len(args)
    args[i : i + 2] = change

    bad = partner("create", *args, "--json", *db)

    one_line_error(bad, word)
    assert bad.stdout == ""
    assert "app_" not in partner("list", *db).stdout


@pytest.mark.parametrize("action", ["approve", "suspend"])
def test_unknown_app_is_one_line(db: list[str], action: str) -> None:
    one_line_error(partner(action, "app_nope", *db), "No such app")


def test_a_database_that_cannot_be_prepared_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"

    result = partner("list", "--data-dir", str(tmp_path / "d"), "--database-url", url)

    one_line_error(result, "cannot open the database")


def test_agreement_publishes_a_new_version(db: list[str]) -> None:
    created = json.loads(partner("create", *FLIX, "--json", "--retention-days", "45", *db).stdout)
    client_id = created["client_id"]

    result = partner(
        "agreement", client_id, "--purpose", "Recommend series", "--data-used", "Clicks", *db
    )
    again = partner(
        "agreement",
        client_id,
        "--purpose",
        "Recommend films",
        "--data-used",
        "Clicks",
        "--retention-days",
        "7",
        "--reporting-days",
        "28",
        *db,
    )

    assert result.exit_code == 0, result.output
    assert f"Flix ({client_id}) agreement is now version 2" in result.stdout
    assert "asked again" in result.stdout
    assert again.exit_code == 0, again.output
    assert "version 3" in again.stdout


def test_agreement_refuses_bad_terms_in_one_line_and_writes_nothing(db: list[str]) -> None:
    created = json.loads(partner("create", *FLIX, "--json", "--retention-days", "45", *db).stdout)
    client_id = created["client_id"]
    base = ["agreement", client_id, "--purpose", "p", "--data-used", "d"]

    bad = partner(*base, "--reporting-days", "0", *db)
    blank = partner("agreement", client_id, "--purpose", " ", "--data-used", "d", *db)
    unknown = partner("agreement", "app_nope", "--purpose", "p", "--data-used", "d", *db)
    usage = partner("agreement", client_id, "--purpose", "p", *db)

    one_line_error(bad, "eporting")
    one_line_error(blank, "urpose")
    one_line_error(unknown, "No such app")
    assert usage.exit_code == 2
    ok = partner(*base, *db)
    assert "version 2" in ok.stdout  # the refused ones wrote nothing


def _agreement(db: list[str], client_id: str) -> Agreement:
    settings = load_settings(data_dir=Path(db[1]), database_url=db[3])

    async def read() -> Agreement:
        hs = build_homeserver(settings)
        try:
            return (await build_services(hs).apps.get(client_id)).agreement
        finally:
            await hs.db.dispose()

    return asyncio.run(read())


def test_create_chooses_the_reports_privacy_method(db: list[str]) -> None:
    dp = partner(
        "create", *FLIX, "--privacy", "differential_privacy", "--epsilon", "0.5", "--json", *db
    )
    k = partner("create", *FLIX, "--k", "25", "--json", *db)
    bad = partner("create", *FLIX, "--privacy", "differential_privacy", *db)
    bounded = partner(
        "create", *FLIX, "--privacy", "differential_privacy", "--epsilon", "1", *db,
        "--contribution-bound", "25", "--json",
    )  # fmt: skip
    unbounded = partner(
        "create", *FLIX, "--privacy", "differential_privacy", "--epsilon", "1", *db,
        "--contribution-bound", "0",
    )  # fmt: skip

    assert dp.exit_code == 0, dp.output
    terms = _agreement(db, json.loads(dp.stdout)["client_id"])
    assert (terms.privacy, terms.epsilon) == ("differential_privacy", 0.5)
    assert terms.contribution_bound == 10  # the documented default
    assert _agreement(db, json.loads(k.stdout)["client_id"]).k_threshold == 25
    one_line_error(bad, "epsilon")
    assert bounded.exit_code == 0, bounded.output
    assert _agreement(db, json.loads(bounded.stdout)["client_id"]).contribution_bound == 25
    one_line_error(unbounded, "contribution bound")


def test_webhook_sets_a_url_with_a_secret_shown_once_and_clears(db: list[str]) -> None:
    client_id = json.loads(partner("create", *FLIX, "--json", *db).stdout)["client_id"]

    made = partner("webhook", client_id, "--url", "https://hooks.flix.example/candor", *db)
    refused = partner("webhook", client_id, "--url", "http://hooks.flix.example/x", *db)
    neither = partner("webhook", client_id, *db)

    assert made.exit_code == 0, made.output
    secret = next(w for w in made.stdout.split() if w.startswith("whsec_"))
    one_line_error(refused, "https")
    assert neither.exit_code == 2
    settings = load_settings(data_dir=Path(db[1]), database_url=db[3])

    async def stored() -> tuple[str | None, str | None]:
        hs = build_homeserver(settings)
        try:
            async with hs.db.read() as conn:
                target = await get_webhook_target(conn, client_id)
        finally:
            await hs.db.dispose()
        return (target.url, target.secret_sealed) if target else (None, None)

    url, sealed = asyncio.run(stored())
    assert url == "https://hooks.flix.example/candor"  # the refused URL changed nothing
    assert sealed is not None
    assert secret not in sealed
    assert unseal(sealed, settings.token_key()) == secret

    cleared = partner("webhook", client_id, "--clear", *db)
    assert cleared.exit_code == 0, cleared.output
    assert asyncio.run(stored()) == (None, None)
