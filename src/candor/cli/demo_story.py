"""The story `candor demo` tells, one method per numbered step, against a running server.

Everything a person or a partner does goes through the real HTTP API and web pages; only
the operator's steps (registering and approving the app, producing the report) call the
services directly, as `candor partner` and `candor reports` do.
"""

import asyncio
import base64
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import text

from candor.cli.demo_chat import ChatResult, encrypted_dm
from candor.cli.demo_shares import Room, Simulation, Tally
from candor.cli.demo_support import (
    DemoClock,
    DemoFailed,
    JsonAnswer,
    PartnerApp,
    Person,
    check,
    consent,
    expect,
    token_request,
)
from candor.cli.reports import export_files
from candor.matrix.context import Homeserver
from candor.partners.apps.rules import AgreementTerms
from candor.reports.periods import Period
from candor.reports.service import StoredReport
from candor.reports.sign import verify as verify_signature
from candor.transparency.merkle import root_from_inclusion_proof
from candor.transparency.witness import WitnessState, accept, needs_proof, open_signed
from candor.wiring import Services

DEVELOPER = "niaj"  # owns StreamFlix in the partner portal
NAMES = [
    "alice",
    "bob",
    "carol",
    "dan",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
]
TLOG = "/_candor/transparency/v1"
SCOPES = "profile share inbox.read"


@dataclass
class Story:
    console: Console
    base_url: str
    hs: Homeserver
    services: Services
    clock: DemoClock
    period: Period
    data_dir: Path
    people: dict[str, Person] | None = None
    app: PartnerApp | None = None
    refresh_token: str = ""
    witness: WitnessState | None = None
    weekend: Room | None = None
    dm: ChatResult | None = None
    report_files: list[Path] | None = None

    def note(self, message: str) -> None:
        self.console.print(f"     {message}", highlight=False)

    @property
    def who(self) -> dict[str, Person]:
        assert self.people is not None  # noqa: S101 - set by the first step
        return self.people

    @property
    def partner(self) -> PartnerApp:
        assert self.app is not None  # noqa: S101 - set by the app step
        return self.app

    def at(self, day: date, hour: int) -> None:
        """Move the server's clock to `hour`:00 UTC of `day` (never past real now)."""
        when = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        self.clock.set(min(when, datetime.now(UTC)))

    # --- 2 ---------------------------------------------------------------------------------
    async def people_join(self) -> None:
        self.at(self.period.start, 9)
        self.people = {n: Person(n, self.base_url) for n in NAMES}
        await asyncio.gather(*(p.register() for p in self.who.values()))
        # One after another: more logins in flight at once from one address than the
        # back-off's free failures would be told to wait (login_backoff).
        for person in self.who.values():
            await person.log_in_on_the_web()
        self.note(f"{len(NAMES)} accounts over /register, each logged in through /login:")
        self.note(", ".join(p.user_id for p in self.who.values()))

    # --- 3 ---------------------------------------------------------------------------------
    async def register_partner(self) -> None:
        redirect_uri = (
            "http://127.0.0.1:9/streamflix/callback"  # nobody listens; we read the Location
        )
        made = await self.services.apps.create(
            name="StreamFlix",
            homepage="https://streamflix.example",
            contact="privacy@streamflix.example",
            redirect_uris=[redirect_uri],
            domains=["streamflix.example"],
            scopes=SCOPES,
            public=False,
            terms=AgreementTerms(
                purpose="Let people recommend films to friends; measure which button works",
                data_used="Who you share with is never sent; clicks are counted per day",
                retention_days=30,
                reporting_days=14,
                privacy="k_anonymity",
                k_threshold=10,
            ),
            # The partner's developer is one of the people, so the portal has an owner.
            owner=self.who[DEVELOPER].user_id,
        )
        approved = await self.services.apps.approve(made.app.client_id)
        assert made.client_secret is not None  # noqa: S101 - a confidential client has one
        self.app = PartnerApp(made.app.client_id, made.client_secret, redirect_uri, SCOPES)
        agreement = approved.agreement
        self.note(f"client_id {approved.client_id} ({approved.status}, confidential client)")
        self.note(f"domain streamflix.example, scopes “{' '.join(approved.scopes)}”")
        self.note(
            f"agreement v{agreement.version}: reports every {agreement.reporting_days} days, "
            f"k-threshold privacy, k = {agreement.k_threshold}"
        )

    # --- 4 ---------------------------------------------------------------------------------
    async def oauth(self, http: httpx.AsyncClient) -> None:
        alice = self.who["alice"]
        code, verifier = await consent(alice, self.partner)
        token = await token_request(
            http,
            self.partner,
            grant_type="authorization_code",
            code=code,
            redirect_uri=self.partner.redirect_uri,
            code_verifier=verifier,
        )
        self.refresh_token = token["refresh_token"]
        me = await http.get(
            "/partner/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        profile = check(me, 200, "StreamFlix reading alice's profile").json()
        self.note("alice: /oauth/authorize → login → consent page → Allow (PKCE S256)")
        self.note(f"granted scopes: “{token['scope']}”; token expires in {token['expires_in']}s")
        self.note(f"StreamFlix GET /partner/v1/me → {profile['user_id']} (logged: read_profile)")
        self.witness = await self._first_checkpoint(http)
        self.note(f"witness pinned the log key, checkpoint size {self.witness.size}")

    async def _first_checkpoint(self, http: httpx.AsyncClient) -> WitnessState:
        vkey = check(await http.get(f"{TLOG}/key"), 200, "the log's key").text.strip()
        deadline = time.monotonic() + 5
        while True:
            note = check(await http.get(f"{TLOG}/checkpoint"), 200, "a checkpoint").text
            state = accept(None, vkey, note, None)
            if state.size > 0 or time.monotonic() > deadline:
                return state
            await asyncio.sleep(0.2)

    # --- 5 ---------------------------------------------------------------------------------
    async def rooms(self) -> tuple[list[Room], list[Room]]:
        p = self.who
        everyone = list(p.values())

        async def group(name: str, members: list[Person]) -> Room:
            creator, rest = members[0], members[1:]
            room_id = await creator.create_room(name, rest, preset="public_chat")
            await asyncio.gather(*(m.join(room_id) for m in rest))
            return Room(name, room_id, tuple(members))

        async def dm(a: Person, b: Person) -> Room:
            room_id = await a.create_room(f"{a.name} & {b.name}", [b], is_direct=True)
            await b.join(room_id)
            return Room(f"{a.name} & {b.name}", room_id, (a, b))

        groups = list(
            await asyncio.gather(
                group("Movie club", everyone),
                group("Film night", [p[n] for n in ("dan", "erin", "frank", "grace", "heidi")]),
                group("Weekend plans", [p["alice"], p["bob"], p["carol"]]),
            )
        )
        dms = list(await asyncio.gather(dm(p["carol"], p["dan"]), dm(p["ivan"], p["judy"])))
        self.weekend = groups[2]
        for room in groups:
            self.note(f"{room.name}: {len(room.members)} members, unencrypted group (public_chat)")
        self.note("2 DMs (carol & dan, ivan & judy): end-to-end encrypted by default")
        return groups[:2], dms

    # --- 6 ---------------------------------------------------------------------------------
    async def encrypted_chat(self) -> None:
        alice, bob = self.who["alice"], self.who["bob"]
        self.dm = await encrypted_dm(
            self.base_url, alice.user_id, bob.user_id, self.data_dir / "nio"
        )
        self.note(f"alice → bob in an E2EE DM: “{escape(self.dm.plaintext)}”")
        self.note("bob's matrix-nio device decrypted it (Megolm session over Olm)")
        async with self.hs.db.read() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT type, content FROM events WHERE room_id = :r AND state_key IS NULL"
                    ),
                    {"r": self.dm.room_id},
                )
            ).all()
        types = sorted({str(r.type) for r in rows})
        expect(types == ["m.room.encrypted"], f"the DM's message events are {types}")
        expect(
            not any(self.dm.plaintext in str(r.content) for r in rows), "plaintext on the server!"
        )
        sample = next(str(r.content) for r in rows)
        self.note(f"events table for that room: {len(rows)} x m.room.encrypted, no plaintext:")
        self.note(f"[dim]{escape(sample[:110])}…[/]")

    # --- 7 ---------------------------------------------------------------------------------
    async def fortnight(self, groups: list[Room], dms: list[Room]) -> Tally:
        sim = Simulation(
            self.clock, self.period.start, self.partner.client_id, list(self.who.values()),
            groups, dms,
        )  # fmt: skip
        lines: list[str] = []
        with Progress(
            TextColumn("     [progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
            transient=True,
        ) as progress:
            task = progress.add_task("simulating days", total=self.period.days)

            def on_day(d: int, what: str) -> None:
                day = self.period.start + timedelta(d)
                lines.append(f"{day} {what}")
                progress.update(task, advance=1, description=f"{day}: {what}")

            tally = await sim.run(self.period.days, on_day)
        for line in lines:
            self.note(f"[dim]{line}[/]")
        self.note(
            f"{tally.sends} cards sent through /share (variant a: {tally.by_variant['a']}, "
            f"b: {tally.by_variant['b']}), {tally.clicks} clicks through /c/…, "
            f"{tally.late_clicks} a day late"
        )
        return tally

    # --- 8 ---------------------------------------------------------------------------------
    async def inbox_group(self, http: httpx.AsyncClient) -> None:
        self.at(self.period.end + timedelta(1), 9)
        assert self.weekend is not None  # noqa: S101 - made by the rooms step
        room = self.weekend.room_id
        alice, bob, carol = self.who["alice"], self.who["bob"], self.who["carol"]
        for who, line in ((alice, "Picnic on Saturday?"), (bob, "Yes!"), (carol, "I'll bake")):
            await who.say(room, line)
        token = await token_request(
            http, self.partner, grant_type="refresh_token", refresh_token=self.refresh_token
        )
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        self.note("StreamFlix refreshed its token (rotation: the old refresh token is spent)")

        grant = await self._ask(alice, room)
        check(await bob.candor("POST", f"/grants/{grant}/decline", {}), 200, "bob declining")
        read = await http.get(f"/partner/v1/rooms/{room}/messages", headers=bearer)
        expect(read.status_code == 404, f"a declined grant still reads: {read.status_code}")
        self.note(f"alice asks ({grant}); bob declines → StreamFlix reads the room:")
        self.note(f"  [red]{read.status_code} {read.json()['errcode']}[/] — no access")

        grant = await self._ask(alice, room)
        for who in (bob, carol):
            r = await who.candor("POST", f"/grants/{grant}/accept", {"include_history": True})
            check(r, 200, f"{who.name} accepting")
        status = check(r, 200, "the grant").json()["status"]
        expect(status == "live", f"the grant is {status} after everyone accepted")
        read = check(
            await http.get(f"/partner/v1/rooms/{room}/messages", headers=bearer),
            200,
            "StreamFlix reading the granted room",
        )
        chunk = read.json()["chunk"]
        said = [e for e in chunk if e["type"] == "m.room.message"]
        self.note(f"alice asks again ({grant}); bob and carol accept → grant live")
        self.note(
            f"StreamFlix GET /partner/v1/rooms/…/messages → 200, {len(chunk)} events "
            f"({len(said)} messages), transparency log index {read.json()['log_index']}"
        )
        await self._bob_sees_it(http, bob, read.json()["log_index"])

    async def _ask(self, alice: Person, room: str) -> str:
        body = {"client_id": self.partner.client_id, "days": 30, "include_history": True}
        r = check(await alice.candor("POST", f"/rooms/{room}/grants", body), 200, "asking")
        grant_id: str = r.json()["grant_id"]
        return grant_id

    async def _bob_sees_it(self, http: httpx.AsyncClient, bob: Person, index: int) -> None:
        """bob's "who accessed my data": the record, its proof checked against the note."""
        vkey = check(await http.get(f"{TLOG}/key"), 200, "the log's key").text.strip()
        deadline = time.monotonic() + 5
        while True:
            body = check(await bob.candor("GET", "/me/accesses"), 200, "bob's accesses").json()
            found = [a for a in body["accesses"] if a["index"] == index]
            if found and found[0]["proof"] is not None:
                break
            if time.monotonic() > deadline:
                raise DemoFailed("the partner's read never appeared in bob's access list")
            await asyncio.sleep(0.25)
        item: JsonAnswer = found[0]
        checkpoint = open_signed(body["checkpoint"], vkey)
        proof = [base64.b64decode(h) for h in item["proof"]["hashes"]]
        root = root_from_inclusion_proof(
            index, checkpoint.size, base64.b64decode(item["leaf_hash"]), proof
        )
        expect(root == checkpoint.root_hash, "the inclusion proof does not lead to the root")
        rec = item["record"]
        self.note(f"bob's GET /_candor/v1/me/accesses → record #{index}:")
        self.note(
            f"  action: {escape(str(rec.get('action')))}, basis: {escape(str(rec.get('basis')))}"
        )
        self.note(f"  actor: {escape(_flat(rec.get('actor')))}")
        self.note(f"  resource: {escape(_flat(rec.get('resource')))}")
        self.note(f"  subjects: {escape(_flat(rec.get('subjects')))}")
        self.note(
            f"  inclusion proof ({len(proof)} hashes) → root of signed checkpoint "
            f"size {checkpoint.size}: [green]verified[/]"
        )

    # --- 9 ---------------------------------------------------------------------------------
    async def inbox_encrypted(self) -> None:
        assert self.dm is not None  # noqa: S101 - made by the chat step
        alice = self.who["alice"]
        body = {"client_id": self.partner.client_id, "days": 30}
        r = await alice.candor("POST", f"/rooms/{self.dm.room_id}/grants", body)
        expect(r.status_code == 400, f"asking for an encrypted room gave {r.status_code}")
        err = r.json()
        expect(err.get("errcode") == "CANDOR_ROOM_ENCRYPTED", f"refused with {err}")
        self.note(f"alice asks StreamFlix access to her E2EE DM with bob → {r.status_code}")
        self.note(f"  [red]{err['errcode']}[/]: {escape(str(err.get('error')))}")

    # --- 10 --------------------------------------------------------------------------------
    async def report(self) -> StoredReport:
        stored = await self.services.reports.produce(self.partner.client_id)
        expect(stored.period == self.period, f"the report covers {stored.period}")
        self.report_files = await asyncio.to_thread(export_files, stored, self.data_dir / "reports")
        doc = stored.document
        signer = verify_signature(doc, stored.signature, self.hs.transparency.signer.verifier())
        table = Table("day", "interface", "surface", "var", "sends", "recip.", "1st", "rep.", "ctr")
        suppressed = 0
        for row in doc["rows"]:
            labels = [row["day"][5:], row["interface"], row["surface"], row["variant"]]
            if row["suppressed"]:
                suppressed += 1
                table.add_row(*labels, *["[dim]-[/]"] * 4, "[dim]suppressed[/]", style="dim")
                continue
            counts = [row[c] for c in ("sends", "recipients", "first_clicks", "repeat_clicks")]
            table.add_row(*labels, *map(str, counts), f"{row['ctr']:.2%}")
        self.console.print(table)
        privacy = doc["privacy"]
        variants = sorted({r["variant"] for r in doc["rows"] if not r["suppressed"]})
        self.note(
            f"{stored.report_id} for {doc['app']['name']}, {doc['period']['start']} … "
            f"{doc['period']['end']}; released variants: {', '.join(variants)}"
        )
        self.note(
            f"{suppressed} of {len(doc['rows'])} cells suppressed: fewer than "
            f"k = {privacy['k']} distinct people (senders and clickers) took part in them"
        )
        self.note(f"[dim]{escape(privacy['statement'])}[/]")
        self.note(f"signature verified with {escape(str(signer))}")
        for path in self.report_files:
            self.note(f"[dim]{escape(str(path))}[/]")
        return stored

    # --- 11 --------------------------------------------------------------------------------
    async def audit(self, http: httpx.AsyncClient) -> None:
        assert self.witness is not None  # noqa: S101 - pinned by the OAuth step
        old = self.witness
        vkey = check(await http.get(f"{TLOG}/key"), 200, "the log's key").text.strip()
        note = check(await http.get(f"{TLOG}/checkpoint"), 200, "the checkpoint").text
        new = open_signed(note, vkey)
        proof: list[bytes] | None = None
        if needs_proof(old, new):
            r = await http.get(
                f"{TLOG}/proof/consistency", params={"from": old.size, "to": new.size}
            )
            proof = [base64.b64decode(h) for h in check(r, 200, "a proof").json()["hashes"]]
        accepted = accept(old, vkey, note, proof)
        self.note(
            f"checkpoint signature OK; size {old.size} → {accepted.size}, consistency proof "
            f"of {len(proof or [])} hashes: [green]OK[/] (append-only)"
        )


def _flat(value: object) -> str:
    """A record's field on one line: dicts as key=value, lists joined."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
