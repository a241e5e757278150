"""End-to-end encryption keys: upload, query, claim, changes, cross-signing, signatures.

The server distributes what clients signed and checks those signatures on the way in;
it never holds a private key. Writes that others must learn of (new or changed device
keys, cross-signing keys, signatures) go through the event persister, which gives the
change a stream position so /sync can tell every room-mate. One-time key claims run as
plain write transactions, where the store's atomic take keeps concurrent claimers apart.
cf. https://spec.matrix.org/v1.11/client-server-api/#end-to-end-encryption
"""

import logging
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict, decode
from candor.core.ids import UserID
from candor.matrix.accounts.service import AccountsService
from candor.matrix.constants import CrossSigningKeyType, KeyAlgorithm
from candor.matrix.errors import Codes, InvalidParam, MatrixError
from candor.matrix.events import facts as events_facts
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.keys import repository as repo
from candor.matrix.keys.device_lists import announce_key_change, device_list_delta
from candor.matrix.keys.schemas import DeviceSigningUploadBody, KeysUploadBody
from candor.matrix.keys.signing import get_signature, signed_bytes, verify_signature
from candor.matrix.keys.validation import (
    InvalidSignature,
    UploadedKey,
    check_device_keys,
    check_one_fallback_per_algorithm,
    check_signed_by_master,
    check_uploaded_keys,
    cross_signing_public_key,
)
from candor.matrix.requester import Requester
from candor.matrix.sync.tokens import parse_page_token
from candor.store.db import Database

logger = logging.getLogger(__name__)

MAX_CLAIMS = 1000


@dataclass(frozen=True, slots=True)
class _Upload:
    device_keys: JsonDict | None
    one_time: list[UploadedKey]
    fallback: list[UploadedKey]


class KeysService:
    def __init__(self, db: Database, persister: EventPersister, accounts: AccountsService) -> None:
        self._db = db
        self._persister = persister
        self._accounts = accounts

    # --- /keys/upload ----------------------------------------------------------------

    async def upload(self, requester: Requester, body: KeysUploadBody) -> dict[str, int]:
        """Validate everything, then write; answers the device's one-time key counts."""
        user_id, device_id = requester.user_id, requester.device_id
        ed25519: str | None = None
        if body.device_keys is not None:
            ed25519 = check_device_keys(body.device_keys, user_id, device_id)
        if ed25519 is None and (body.one_time_keys or body.fallback_keys):
            async with self._db.read() as conn:
                stored = await repo.get_device_keys(conn, user_id, device_id)
            ed25519 = _device_ed25519(stored, device_id)
        upload = _Upload(
            body.device_keys,
            check_uploaded_keys(
                "one_time_keys", body.one_time_keys or {}, user_id, device_id, ed25519
            ),
            check_uploaded_keys(
                "fallback_keys", body.fallback_keys or {}, user_id, device_id, ed25519
            ),
        )
        check_one_fallback_per_algorithm(upload.fallback)

        async def work(ctx: WriteContext) -> dict[str, int]:
            stored = await self._check_one_time_ids(ctx, user_id, device_id, upload.one_time)
            new = [k for k in upload.one_time if (k.algorithm, k.key_id) not in stored]
            await repo.add_one_time_keys(
                ctx.conn, user_id, device_id, [(k.algorithm, k.key_id, k.raw) for k in new]
            )
            for key in upload.fallback:
                await repo.set_fallback_key(
                    ctx.conn, user_id, device_id, key.algorithm, key.key_id, key.raw
                )
            if upload.device_keys is not None:
                old = await repo.get_device_keys(ctx.conn, user_id, device_id)
                if old is None or signed_bytes(old) != signed_bytes(upload.device_keys):
                    await repo.set_device_keys(ctx.conn, user_id, device_id, upload.device_keys)
                    if old is not None:
                        # Signatures over the old keys vouch for keys that are gone.
                        await repo.delete_signatures_of(ctx.conn, user_id, [device_id])
                    await announce_key_change(ctx, user_id)
                elif old != upload.device_keys:
                    # Same keys, other signatures: keep the latest object, no news for others.
                    await repo.set_device_keys(ctx.conn, user_id, device_id, upload.device_keys)
            counts, _ = await repo.count_keys(ctx.conn, user_id, device_id)
            return counts

        counts = await self._persister.run(work)
        counts.setdefault(KeyAlgorithm.SIGNED_CURVE25519, 0)
        return counts

    @staticmethod
    async def _check_one_time_ids(
        ctx: WriteContext, user_id: str, device_id: str, keys: list[UploadedKey]
    ) -> set[tuple[str, str]]:
        """A key id may be uploaded again only with the same key (a client retry).

        Returns the (algorithm, key id) pairs that are already stored.
        """
        stored = await repo.get_one_time_keys(
            ctx.conn, user_id, device_id, [(k.algorithm, k.key_id) for k in keys]
        )
        for key in keys:
            raw = stored.get((key.algorithm, key.key_id))
            if raw is not None and decode(raw) != decode(key.raw):
                raise InvalidParam(
                    f"One-time key {key.algorithm}:{key.key_id} already exists with other content"
                )
        return set(stored)

    # --- /keys/query -----------------------------------------------------------------

    async def query(self, requester: Requester, wanted: dict[str, list[str]]) -> JsonDict:
        users = [_parse_user(u) for u in wanted]
        wanted = {
            u: list(dict.fromkeys(wanted[raw]))[:1000] for u, raw in zip(users, wanted, strict=True)
        }
        async with self._db.read() as conn:
            devices = await repo.list_device_keys(conn, wanted)
            cross = await repo.list_cross_signing_keys(conn, users)
            signatures = await repo.list_signatures(conn, users)
        extra: dict[tuple[str, str], list[repo.SignatureRow]] = {}
        for sig in signatures:
            # Someone else's signature on a master key is the signer's business only.
            if sig.signer_user_id in (sig.target_user_id, requester.user_id):
                extra.setdefault((sig.target_user_id, sig.target_key_id), []).append(sig)
        # Users without devices with keys (or unknown users) are absent, not empty.
        device_keys: dict[str, JsonDict] = {}
        for d in devices:
            keys = _with_signatures(d.keys, extra.get((d.user_id, d.device_id), []))
            if d.display_name is not None:
                unsigned = keys.get("unsigned")
                unsigned = dict(unsigned) if isinstance(unsigned, dict) else {}
                unsigned["device_display_name"] = d.display_name
                keys["unsigned"] = unsigned
            device_keys.setdefault(d.user_id, {})[d.device_id] = keys
        out: JsonDict = {"device_keys": device_keys, "failures": {}}
        sections = {
            CrossSigningKeyType.MASTER: "master_keys",
            CrossSigningKeyType.SELF_SIGNING: "self_signing_keys",
            CrossSigningKeyType.USER_SIGNING: "user_signing_keys",
        }
        cross_out: dict[str, dict[str, JsonDict]] = {name: {} for name in sections.values()}
        for user_id, by_type in cross.items():
            for key_type, key in by_type.items():
                if key_type == CrossSigningKeyType.USER_SIGNING and user_id != requester.user_id:
                    continue
                public = _public_of(key)
                cross_out[sections[CrossSigningKeyType(key_type)]][user_id] = _with_signatures(
                    key, extra.get((user_id, public), [])
                )
        out.update(cross_out)
        return out

    # --- /keys/claim -----------------------------------------------------------------

    async def claim(self, requester: Requester, wanted: dict[str, dict[str, str]]) -> JsonDict:
        """Each one-time key to one claimer; the fallback key when none are left."""
        todo: list[tuple[str, str, str]] = []
        for raw_user, devices in wanted.items():
            user_id = _parse_user(raw_user)
            todo.extend((user_id, device_id, alg) for device_id, alg in devices.items())
        if len(todo) > MAX_CLAIMS:
            raise InvalidParam(f"At most {MAX_CLAIMS} keys can be claimed at once")
        for _, device_id, alg in todo:
            if len(device_id) > 255 or not alg or len(alg) > 64:
                raise InvalidParam("Invalid device id or algorithm")
        claimed: dict[str, dict[str, JsonDict]] = {}
        async with self._db.write() as conn:
            for user_id, device_id, alg in todo:
                found = await repo.claim_one_time_key(conn, user_id, device_id, alg)
                if found is None:
                    found = await repo.claim_fallback_key(conn, user_id, device_id, alg)
                if found is not None:
                    key_id, key = found
                    claimed.setdefault(user_id, {})[device_id] = {f"{alg}:{key_id}": key}
        return {"one_time_keys": claimed, "failures": {}}

    # --- /keys/changes ---------------------------------------------------------------

    async def changes(self, requester: Requester, from_token: str, to_token: str) -> JsonDict:
        after = parse_page_token(from_token)
        upto = parse_page_token(to_token)
        async with self._db.read() as conn:
            current = await events_facts.stream_position(conn)
            changed, left = await device_list_delta(
                conn, requester.user_id, after, min(upto, current)
            )
        return {"changed": changed, "left": left}

    # --- cross-signing ---------------------------------------------------------------

    async def upload_cross_signing(
        self, requester: Requester, body: DeviceSigningUploadBody
    ) -> None:
        """Master, self-signing and user-signing keys.

        The first upload needs no extra auth (spec v1.11, MSC3967: a new account sets up
        cross-signing in one step). Once a master key is stored, every upload that is not a
        retry of the stored keys needs the password, because whoever holds the cross-signing
        keys decides which devices a user's contacts trust. That includes an empty upload:
        it changes nothing, but it is how Element asks which UIA flows the server offers
        before it resets cross-signing, so it gets the 401 with the flows; with no master
        key stored it is a no-op that succeeds, as every field is optional.
        """
        user_id = requester.user_id
        uploads: dict[CrossSigningKeyType, JsonDict] = {}
        for key_type, key in (
            (CrossSigningKeyType.MASTER, body.master_key),
            (CrossSigningKeyType.SELF_SIGNING, body.self_signing_key),
            (CrossSigningKeyType.USER_SIGNING, body.user_signing_key),
        ):
            if key is not None:
                cross_signing_public_key(key, user_id, key_type)
                uploads[key_type] = key
        async with self._db.read() as conn:
            stored = (await repo.list_cross_signing_keys(conn, [user_id])).get(user_id, {})
        old_master = stored.get(CrossSigningKeyType.MASTER)
        if not uploads:
            if old_master is not None:
                await self._accounts.check_password_auth(requester, body.auth)
            return
        master = uploads.get(CrossSigningKeyType.MASTER) or stored.get(CrossSigningKeyType.MASTER)
        if master is None:
            raise InvalidParam("Upload a master key first")
        master_public = cross_signing_public_key(master, user_id, CrossSigningKeyType.MASTER)
        for key_type in (CrossSigningKeyType.SELF_SIGNING, CrossSigningKeyType.USER_SIGNING):
            if key_type in uploads:
                check_signed_by_master(uploads[key_type], user_id, master_public, key_type)
        changes = {t: k for t, k in uploads.items() if stored.get(t) != k}
        if not changes:
            return  # a retry of the same upload
        if old_master is not None:
            await self._accounts.check_password_auth(requester, body.auth)

        async def work(ctx: WriteContext) -> None:
            for key_type, key in changes.items():
                await repo.set_cross_signing_key(ctx.conn, user_id, key_type, key)
            if CrossSigningKeyType.MASTER in changes and old_master is not None:
                await repo.delete_signatures_of(ctx.conn, user_id, [_public_of(old_master)])
                await repo.delete_signatures_by(ctx.conn, user_id)
            await announce_key_change(ctx, user_id)

        await self._persister.run(work)

    async def upload_signatures(self, requester: Requester, body: JsonDict) -> JsonDict:
        """Signatures by the caller on their devices, their master key, others' master keys.

        Each signature is checked against the key that must have made it; bad ones are
        reported in `failures` and the good ones stored.
        """
        signer = requester.user_id
        targets: list[tuple[str, str, JsonDict]] = []
        for raw_user, keys in body.items():
            target_user = _parse_user(raw_user)
            if not isinstance(keys, dict):
                raise InvalidParam("Signatures are given as user id → key id → signed object")
            for key_id, obj in keys.items():
                if not isinstance(obj, dict):
                    raise InvalidParam("Signatures are given as user id → key id → signed object")
                targets.append((target_user, key_id, obj))
        if len(targets) > MAX_CLAIMS:
            raise InvalidParam("Too many signatures in one request")
        failures: dict[str, dict[str, JsonDict]] = {}
        accepted: list[repo.SignatureRow] = []
        async with self._db.read() as conn:
            users = list({t[0] for t in targets} | {signer})
            cross = await repo.list_cross_signing_keys(conn, users)
            own_devices = {
                d.device_id: d.keys for d in await repo.list_device_keys(conn, {signer: []})
            }
            for target_user, key_id, obj in targets:
                try:
                    accepted.extend(
                        _check_signature(signer, cross, own_devices, target_user, key_id, obj)
                    )
                except MatrixError as exc:
                    failures.setdefault(target_user, {})[key_id] = {
                        "errcode": exc.errcode,
                        "error": exc.message,
                    }
        if accepted:

            async def work(ctx: WriteContext) -> None:
                for row in accepted:
                    await repo.set_signature(ctx.conn, row)
                for target_user in sorted({row.target_user_id for row in accepted}):
                    await announce_key_change(ctx, target_user)

            await self._persister.run(work)
        return {"failures": failures}


def _check_signature(
    signer: str,
    cross: dict[str, dict[str, JsonDict]],
    own_devices: dict[str, JsonDict],
    target_user: str,
    key_id: str,
    obj: JsonDict,
) -> list[repo.SignatureRow]:
    target_master = cross.get(target_user, {}).get(CrossSigningKeyType.MASTER)
    signer_keys = cross.get(signer, {})
    stored: JsonDict | None
    if target_user == signer and key_id in own_devices:
        stored = own_devices[key_id]
        ssk = signer_keys.get(CrossSigningKeyType.SELF_SIGNING)
        if ssk is None:
            raise InvalidSignature("No self-signing key to sign devices with")
        signing_keys = {f"{KeyAlgorithm.ED25519}:{_public_of(ssk)}": _public_of(ssk)}
    elif target_master is not None and key_id == _public_of(target_master):
        stored = target_master
        if target_user == signer:
            signing_keys = {
                f"{KeyAlgorithm.ED25519}:{dev}": ed
                for dev, keys in own_devices.items()
                if (ed := _device_ed25519(keys, dev)) is not None
            }
        else:
            usk = signer_keys.get(CrossSigningKeyType.USER_SIGNING)
            if usk is None:
                raise InvalidSignature("No user-signing key to sign other users with")
            signing_keys = {f"{KeyAlgorithm.ED25519}:{_public_of(usk)}": _public_of(usk)}
    else:
        raise MatrixError(404, Codes.NOT_FOUND, "Unknown key")
    if signed_bytes(obj) != signed_bytes(stored):
        raise InvalidSignature("The signed object differs from the stored key")
    rows: list[repo.SignatureRow] = []
    for signer_key_id, public in signing_keys.items():
        sig = get_signature(obj, signer, signer_key_id)
        if sig is None or get_signature(stored, signer, signer_key_id) == sig:
            continue
        if not verify_signature(obj, sig, public):
            raise InvalidSignature(f"Invalid signature by {signer_key_id}")
        rows.append(repo.SignatureRow(target_user, key_id, signer, signer_key_id, sig))
    if not rows:
        raise InvalidSignature("No new signature by a key that may sign this one")
    return rows


def _parse_user(raw: str) -> str:
    return str(UserID.parse(raw))


def _device_ed25519(keys: JsonDict | None, device_id: str) -> str | None:
    if keys is None:
        return None
    key_map = keys.get("keys")
    if not isinstance(key_map, dict):
        return None
    value = key_map.get(f"{KeyAlgorithm.ED25519}:{device_id}")
    return value if isinstance(value, str) else None


def _public_of(key: JsonDict) -> str:
    """The public part of a stored (already validated) cross-signing key."""
    key_map = key.get("keys")
    if isinstance(key_map, dict):
        for value in key_map.values():
            if isinstance(value, str):
                return value
    return ""


def _with_signatures(key: JsonDict, extra: list[repo.SignatureRow]) -> JsonDict:
    """A copy of `key` with uploaded signatures merged into its `signatures`."""
    out = dict(key)
    if not extra:
        return out
    sigs = out.get("signatures")
    merged: dict[str, object] = {}
    if isinstance(sigs, dict):
        merged = {u: dict(v) if isinstance(v, dict) else v for u, v in sigs.items()}
    for row in extra:
        by_user = merged.setdefault(row.signer_user_id, {})
        if isinstance(by_user, dict):
            by_user[row.signer_key_id] = row.signature
    out["signatures"] = merged
    return out
