// Candor e2e driver: a real matrix-js-sdk client, run by pytest as a subprocess.
//
//   node jsclient.mjs --homeserver http://127.0.0.1:PORT --user js_alice --password secret \
//       --room ROOM_ID_OR_EMPTY --peer @nio_bob:localhost --send N --expect N [--timeout 60]
//
// stdout: one JSON object per line ({"event": ...}); everything else goes to stderr.
// Exit 0 on success; on failure a {"event":"error",...} line and exit 1 (2 on timeout).

// ---- Node 20 support: matrix-js-sdk >= 38 uses Promise.withResolvers (Node 22+). ----
if (typeof Promise.withResolvers !== "function") {
    Promise.withResolvers = function withResolvers() {
        let resolve, reject;
        const promise = new this((res, rej) => {
            resolve = res;
            reject = rej;
        });
        return { promise, resolve, reject };
    };
}

// ---- Keep stdout for the JSON protocol only: console.* (used by the SDK's logger) -> stderr. ----
// The SDK logs a lot at debug level; set JSCLIENT_DEBUG=1 to see it.
const noop = () => {};
console.log = console.error;
console.info = console.error;
console.debug = process.env.JSCLIENT_DEBUG ? console.error : noop;
console.trace = process.env.JSCLIENT_DEBUG ? console.error : noop;

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

function log(...args) {
    process.stderr.write(`[jsclient] ${args.join(" ")}\n`);
}

// ---- Arguments ----
function parseArgs(argv) {
    const opts = {
        homeserver: null,
        user: null,
        password: null,
        room: "",
        peer: null,
        send: 0,
        expect: 0,
        timeout: 60,
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        let key;
        let value;
        if (arg.startsWith("--") && arg.includes("=")) {
            key = arg.slice(2, arg.indexOf("="));
            value = arg.slice(arg.indexOf("=") + 1);
        } else if (arg.startsWith("--")) {
            key = arg.slice(2);
            if (i + 1 >= argv.length) throw new Error(`missing value for ${arg}`);
            value = argv[++i];
        } else {
            throw new Error(`unexpected argument: ${arg}`);
        }
        if (!(key in opts)) throw new Error(`unknown option --${key}`);
        if (["send", "expect", "timeout"].includes(key)) {
            const n = Number(value);
            if (!Number.isFinite(n) || n < 0) throw new Error(`--${key} must be a non-negative number`);
            opts[key] = n;
        } else {
            opts[key] = value;
        }
    }
    for (const key of ["homeserver", "user", "password", "peer"]) {
        if (!opts[key]) throw new Error(`--${key} is required`);
    }
    opts.homeserver = opts.homeserver.replace(/\/+$/, "");
    return opts;
}

let step = "init";
let client = null;
let lastSyncError = null;
let lastRetryError = null;
let receivedSoFar = null;

function fail(message, code = 1) {
    const line = { event: "error", step, message };
    if (receivedSoFar) line.received = receivedSoFar.slice();
    emit(line);
    try {
        client?.stopClient();
    } catch {
        /* ignore */
    }
    process.exit(code);
}

let opts;
try {
    opts = parseArgs(process.argv.slice(2));
} catch (err) {
    fail(`bad arguments: ${err.message}`);
}

// Hard overall timeout: the script never hangs, whatever the server does.
setTimeout(() => {
    let extra = lastSyncError ? ` (last sync error: ${lastSyncError})` : "";
    if (lastRetryError) extra += ` (last retried error: ${lastRetryError})`;
    fail(`timeout after ${opts.timeout}s during step '${step}'${extra}`, 2);
}, opts.timeout * 1000);

process.on("unhandledRejection", (reason) => {
    log(`unhandled rejection (ignored): ${reason?.stack ?? reason}`);
});

// Every HTTP request the SDK makes is logged to stderr as "[http] METHOD PATH -> STATUS".
async function loggingFetch(input, init) {
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const started = Date.now();
    try {
        const res = await fetch(input, init);
        log(`[http] ${method} ${url.pathname}${url.search} -> ${res.status} (${Date.now() - started}ms)`);
        return res;
    } catch (err) {
        log(`[http] ${method} ${url.pathname}${url.search} -> FAILED ${err?.name}: ${err?.message}`);
        throw err;
    }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolve when predicate() is true; re-checked on every `events` emission and every 250 ms. */
function waitFor(predicate, events = []) {
    return new Promise((resolve) => {
        const check = () => {
            let ok = false;
            try {
                ok = predicate();
            } catch (err) {
                log(`waitFor predicate threw: ${err}`);
            }
            if (ok) {
                clearInterval(timer);
                for (const ev of events) client.off(ev, check);
                resolve();
            }
            return ok;
        };
        const timer = setInterval(check, 250);
        for (const ev of events) client.on(ev, check);
        check();
    });
}

function errText(err) {
    if (err?.errcode) return `${err.errcode}: ${err.data?.error ?? err.message} (HTTP ${err.httpStatus})`;
    if (err?.httpStatus) return `HTTP ${err.httpStatus}: ${err.message}`;
    if (err instanceof Error) return `${err.name}: ${err.message}`;
    return String(err);
}

async function main() {
    // Import after the polyfill is in place (static imports would be hoisted above it).
    const sdk = await import("matrix-js-sdk");
    const { ClientEvent, RoomEvent, RoomMemberEvent, RoomStateEvent, SyncState, Preset, EventType } = sdk;

    // 1. log in with a password, start syncing, wait for PREPARED.
    step = "login";
    const loginClient = sdk.createClient({ baseUrl: opts.homeserver, fetchFn: loggingFetch });
    const login = await loginClient.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: opts.user },
        password: opts.password,
        initial_device_display_name: "candor-e2e matrix-js-sdk",
    });
    loginClient.stopClient();
    emit({ event: "logged_in", user_id: login.user_id, device_id: login.device_id });

    client = sdk.createClient({
        baseUrl: opts.homeserver,
        accessToken: login.access_token,
        userId: login.user_id,
        deviceId: login.device_id,
        fetchFn: loggingFetch,
    });

    // Collect the peer's messages from the very start (they may arrive before we send ours).
    const received = [];
    receivedSoFar = received;
    const seen = new Set();
    let roomId = null;
    const pending = []; // events seen before we knew our room id
    const accept = (ev) => {
        if (seen.has(ev.getId())) return;
        seen.add(ev.getId());
        received.push(ev.getContent()?.body);
        log(`received from ${ev.getSender()}: ${JSON.stringify(ev.getContent()?.body)}`);
    };
    client.on(RoomEvent.Timeline, (ev, room) => {
        if (ev.getType() !== EventType.RoomMessage || ev.getSender() !== opts.peer) return;
        if (ev.isSending?.() || !ev.getId()?.startsWith("$")) return;
        const evRoomId = room?.roomId ?? ev.getRoomId();
        if (roomId === null) pending.push([evRoomId, ev]);
        else if (evRoomId === roomId) accept(ev);
    });

    client.on(ClientEvent.Sync, (state, prevState, data) => {
        if (state !== prevState) log(`sync state ${prevState} -> ${state}`);
        if (state === SyncState.Error) {
            lastSyncError = errText(data?.error);
            log(`sync error: ${lastSyncError}`);
        }
    });

    step = "sync";
    const prepared = new Promise((resolve) => {
        const onSync = (state) => {
            if (state === SyncState.Prepared || state === SyncState.Syncing) {
                client.off(ClientEvent.Sync, onSync);
                resolve();
            }
        };
        client.on(ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: 20 });
    await prepared;
    emit({ event: "synced" });

    // 2. create a room inviting the peer, or join the given one.
    if (!opts.room) {
        step = "create_room";
        // matrix-js-sdk runs here without its (WASM) crypto module, and Candor encrypts
        // private rooms by default; a public_chat room stays unencrypted.
        const res = await client.createRoom({
            preset: Preset.PublicChat,
            invite: [opts.peer],
            name: "candor e2e (matrix-js-sdk)",
        });
        roomId = res.room_id;
        emit({ event: "room", room_id: roomId });
    } else {
        step = "join_room";
        // The invite may not have reached us yet: retry a 403 until the overall timeout.
        for (;;) {
            try {
                const room = await client.joinRoom(opts.room);
                roomId = room.roomId;
                lastRetryError = null;
                break;
            } catch (err) {
                if (err?.httpStatus === 403 || err?.errcode === "M_FORBIDDEN") {
                    lastRetryError = errText(err);
                    log(`join refused, retrying: ${lastRetryError}`);
                    await sleep(500);
                    continue;
                }
                throw err;
            }
        }
        emit({ event: "joined", room_id: roomId });
    }
    for (const [evRoomId, ev] of pending.splice(0)) if (evRoomId === roomId) accept(ev);

    // Wait until our own join is visible through sync, so the room exists locally.
    step = "own_join";
    await waitFor(() => client.getRoom(roomId)?.getMyMembership() === "join", [RoomEvent.MyMembership]);

    // 3. wait for the peer to join.
    step = "peer_join";
    await waitFor(
        () => client.getRoom(roomId)?.getMember(opts.peer)?.membership === "join",
        [RoomMemberEvent.Membership, RoomStateEvent.Members],
    );
    emit({ event: "peer_joined" });

    // 4. send N text messages, awaiting each.
    step = "send";
    const eventIds = [];
    for (let i = 0; i < opts.send; i++) {
        const res = await client.sendTextMessage(roomId, `js message ${i}`);
        eventIds.push(res.event_id);
    }
    emit({ event: "sent", count: opts.send, event_ids: eventIds });

    // 5. wait until --expect messages from the peer arrived through the sync loop.
    step = "receive";
    await waitFor(() => received.length >= opts.expect, [RoomEvent.Timeline]);
    emit({ event: "received", bodies: received.slice() });

    // 6. done.
    step = "stop";
    client.stopClient();
    emit({ event: "done" });
    process.exit(0);
}

main().catch((err) => {
    log(`failed in step '${step}': ${err?.stack ?? err}`);
    fail(errText(err));
});
