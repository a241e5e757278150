"""Driving Element Web in Chromium: its static server, the API error record, and one helper
per user step, so a scenario reads as what people do.

Element is served from the unpacked bundle (`tests/helpers/element.py`) on 127.0.0.1 by a
small threaded HTTP server that answers `config.json` (and Element's per-host
`config.<host>.json`) from memory, so each test points its own Element at its own
`candor serve` without writing into the shared bundle.

Selectors are Element's own `data-testid`s, ARIA roles and visible English labels of
v1.11.88 (an unminified build). Waits are Playwright's `expect` (bounded polling of the
page), never fixed sleeps.
"""

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
from playwright.async_api import Browser, Locator, Page, Response, expect
from playwright.async_api import Error as PlaywrightError

STEP_TIMEOUT_MS = 30_000
API_PATH = re.compile(r"/_matrix/|/\.well-known/matrix/")
# The errcode of an answer whose body the page could not read (not JSON, or the page went
# away first, as Element's does when it finds itself signed out).
UNREAD = "(body not read)"
SENDING = re.compile(r"\bmx_EventTile_sending\b")  # queued, encrypting or sending


def element_config(homeserver: str) -> bytes:
    """Element's config: this homeserver only, no guests, no welcome page, no telemetry."""
    return json.dumps(
        {
            "default_server_config": {
                "m.homeserver": {"base_url": homeserver, "server_name": "localhost"}
            },
            "disable_custom_urls": True,
            "disable_guests": True,
            "disable_3pid_login": True,
            "brand": "Element",
            "default_theme": "light",
            "show_labs_settings": False,
            "setting_defaults": {"UIFeature.Feedback": False},
            # Release announcements are pop-overs about Element's own news, not the server.
            "features": {"feature_release_announcement": False},
            "element_call": {"use_exclusively": False},
            "bug_report_endpoint_url": None,
            "map_style_url": None,
        }
    ).encode()


class _ElementFiles(SimpleHTTPRequestHandler):
    config: bytes = b"{}"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/config.json" or re.fullmatch(r"/config\.[^/]+\.json", path):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads Element's behaviour, not the access log."""


@contextmanager
def serve_element(bundle: Path, homeserver: str) -> Iterator[str]:
    """Element's files on a free 127.0.0.1 port, configured for `homeserver`; yields its URL."""
    handler = type("ElementFiles", (_ElementFiles,), {"config": element_config(homeserver)})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(bundle)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the record of failed API calls ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiFailure:
    who: str
    method: str
    path: str
    status: int
    errcode: str | None

    def __str__(self) -> str:
        return f"{self.who}: {self.method} {self.path} → {self.status} {self.errcode or ''}"


@dataclass
class ApiRecord:
    """Every Matrix API answer ≥ 400 that Element received, from every page watched."""

    failures: list[ApiFailure] = field(default_factory=list)

    def watch(self, page: Page, who: str) -> None:
        async def on_response(response: Response) -> None:
            if response.status < 400 or not API_PATH.search(response.url):
                return
            if response.request.method == "OPTIONS":
                return  # a failed preflight shows up as the request failing, not here
            errcode: str | None = UNREAD
            with contextlib.suppress(ValueError, PlaywrightError):
                body = await response.json()
                errcode = None  # e.g. a user-interactive auth challenge
                if isinstance(body, dict) and isinstance(body.get("errcode"), str):
                    errcode = body["errcode"]
            path = re.sub(r"^https?://[^/]+", "", response.url).split("?", 1)[0]
            self.failures.append(
                ApiFailure(who, response.request.method, path, response.status, errcode)
            )

        page.on("response", on_response)


class People:
    """The people of one Element scenario: a browser context each, every failed API call
    any of them saw (`record`), and screenshots of all of them at once."""

    def __init__(self, browser: Browser, folder: Path) -> None:
        self.record = ApiRecord()
        self._browser = browser
        self._folder = folder
        self._pages: dict[str, Page] = {}

    async def page(self, who: str) -> Page:
        """A fresh browser context for `who`, watched for failed API calls."""
        page = await (await self._browser.new_context()).new_page()
        self.record.watch(page, who)
        self._pages[who] = page
        return page

    async def snapshot(self, step: str) -> None:
        for who, page in self._pages.items():
            await page.screenshot(path=self._folder / f"{step}-{who}.png")


@contextlib.asynccontextmanager
async def people(browser: Browser, folder: Path) -> AsyncIterator[People]:
    """A scenario's people; on a failure, a screenshot of each ("failed-…"), and in any
    case the failed API calls in `api-failures.txt` beside the screenshots."""
    found = People(browser, folder)
    try:
        yield found
    except BaseException:
        await found.snapshot("failed")
        raise
    finally:
        seen = "\n".join(map(str, found.record.failures))
        (folder / "api-failures.txt").write_text(seen + "\n")


# --- steps -------------------------------------------------------------------------------
# One function per thing a person does in Element. Each waits for Element to show the
# result it needs next, so a scenario is a plain sequence of these.


async def open_element(page: Page, element_url: str, route: str = "") -> None:
    await page.goto(f"{element_url}/#/{route}")


async def register(page: Page, element_url: str, username: str, password: str) -> None:
    """Element's registration form, as a new user fills it in; ends on the home view.

    With a password in hand Element sets up cross-signing on its own right after
    registering (`/versions` advertises it); the use-case question that follows is skipped.
    """
    await open_element(page, element_url, "register")
    username_field = page.locator("#mx_RegistrationForm_username")
    await expect(username_field).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await username_field.fill(username)
    await page.locator("#mx_RegistrationForm_password").fill(password)
    await page.locator("#mx_RegistrationForm_passwordConfirm").fill(password)
    await page.get_by_role("button", name="Register").click()
    await page.get_by_role("button", name="Skip").click(timeout=STEP_TIMEOUT_MS)
    await expect_home(page)


async def sign_in(page: Page, element_url: str, username: str, password: str) -> None:
    """Element's sign-in form with a username and password (Element's next screen depends
    on the account: see `expect_home` and `skip_device_verification`)."""
    await open_element(page, element_url, "login")
    username_field = page.locator("#mx_LoginForm_username")
    await expect(username_field).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await username_field.fill(username)
    await page.locator("#mx_LoginForm_password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def expect_home(page: Page) -> None:
    """Element's main view is up: the room list is there."""
    await expect(room_list(page)).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def skip_device_verification(page: Page) -> None:
    """A new session of an account with cross-signing: Element asks to verify it first;
    the person chooses to do it later (the "Verify this session" toast stays)."""
    await page.get_by_role("button", name="Skip verification for now").click(
        timeout=STEP_TIMEOUT_MS
    )
    await page.get_by_role("button", name="I'll verify later").click()
    await expect_home(page)


async def set_up_secure_backup(page: Page) -> str:
    """The "Set up Secure Backup" toast, all the way through: Element makes a security key
    (offered as a download), creates secret storage with the cross-signing keys in it and a
    server-side key backup. Returns the security key."""
    toast = page.locator(".mx_Toast_toast").filter(has_text="Set up Secure Backup")
    await toast.get_by_role("button", name="Continue").click(timeout=STEP_TIMEOUT_MS)
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Continue").click()  # "Generate a Security Key"
    async with page.expect_download() as download_info:
        await dialog.get_by_role("button", name="Download").click()
    download = await download_info.value
    key = (await anyio.Path(await download.path()).read_text()).strip()
    await dialog.get_by_role("button", name="Continue").click()
    await dialog.get_by_role("button", name="Done").click(timeout=STEP_TIMEOUT_MS)
    return key


async def start_dm(page: Page, query: str, user_id: str) -> None:
    """Start chat → type `query` → pick `user_id` → Go. Element opens the DM but creates
    the room only with the first message.

    With a full user id as the query Element can start the chat without suggestions; with
    a display name it needs the server's people search to suggest `user_id`.
    """
    await page.get_by_role("button", name="Start chat").first.click()
    await page.get_by_test_id("invite-dialog-input").fill(query)
    suggestion = page.locator(".mx_InviteDialog_tile").filter(
        has=page.locator(".mx_InviteDialog_tile_nameStack_userId", has_text=user_id)
    )
    if query != user_id:
        await suggestion.first.click(timeout=STEP_TIMEOUT_MS)
    await page.get_by_role("button", name="Go").click()
    await expect(composer(page)).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def accept_dm_invite(page: Page) -> None:
    """The (only) invite in the room list's Invites section → "Start chatting"."""
    invites = room_list(page).get_by_role("group", name="Invites")
    await invites.locator(".mx_RoomTile").first.click(timeout=STEP_TIMEOUT_MS)
    await page.get_by_role("button", name="Start chatting").click(timeout=STEP_TIMEOUT_MS)
    await expect(composer(page, encrypted=True)).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def open_room(page: Page, room_name: str) -> None:
    await (
        room_list(page)
        .get_by_role("treeitem")
        .filter(has_text=room_name)
        .click(timeout=STEP_TIMEOUT_MS)
    )
    await expect(page.locator(".mx_RoomView")).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def reopen_room(page: Page) -> None:
    """Leave the open room for the home page and come back (both in-page navigations).

    Element decides a message's shield when it draws the message; a device verified later
    shows as such once the room is drawn again.
    """
    room_url = page.url
    await page.goto(re.sub(r"#/.*$", "#/home", room_url))
    await expect(page.locator(".mx_RoomView")).to_have_count(0, timeout=STEP_TIMEOUT_MS)
    await page.goto(room_url)
    await expect(page.locator(".mx_RoomView")).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def send_message(page: Page, text: str, *, encrypted: bool = True) -> None:
    """Type and send in the open room; waits until the server took it (no longer pending)."""
    box = composer(page, encrypted=encrypted)
    await box.fill(text)
    await box.press("Enter")
    tile = event_tile(page, text)
    await expect(tile).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(tile).not_to_have_class(SENDING, timeout=STEP_TIMEOUT_MS)


async def verify_session(new: Page, existing: Page) -> None:
    """Verify the `new` session from the `existing` one with emoji (SAS over to-device).

    The new session asks ("Verify with another device"), the existing one accepts from its
    toast, the new one starts the emoji comparison, both show the same seven emoji and the
    person confirms "They match" on both.
    """
    toast = new.locator(".mx_Toast_toast").filter(has_text="Verify this session")
    if await toast.is_visible():
        await toast.get_by_role("button", name="Verify").click()
    await new.get_by_role("button", name="Verify with another device").click(
        timeout=STEP_TIMEOUT_MS
    )
    request = existing.locator(".mx_Toast_toast").filter(has_text="Verification requested")
    await request.get_by_role("button", name="Verify Session").click(timeout=STEP_TIMEOUT_MS)
    await new.get_by_role("button", name="Start").click(timeout=STEP_TIMEOUT_MS)
    emoji = ".mx_VerificationShowSas_emojiSas_block"
    await expect(new.locator(emoji)).to_have_count(7, timeout=STEP_TIMEOUT_MS)
    await expect(existing.locator(emoji)).to_have_count(7, timeout=STEP_TIMEOUT_MS)
    shown = await new.locator(emoji).all_inner_texts()
    assert shown == await existing.locator(emoji).all_inner_texts(), shown
    await existing.get_by_role("button", name="They match").click()
    await new.get_by_role("button", name="They match").click()
    for page in (new, existing):
        await page.get_by_role("button", name="Got it").click(timeout=STEP_TIMEOUT_MS)


async def explore_and_join(page: Page, room_name: str) -> None:
    """Explore rooms → the server's public room directory → Join `room_name`; ends in it."""
    await page.get_by_role("button", name="Explore rooms").click(timeout=STEP_TIMEOUT_MS)
    dialog = page.get_by_role("dialog")
    result = dialog.get_by_role("option").filter(has_text=room_name)
    await result.get_by_role("button", name="Join").click(timeout=STEP_TIMEOUT_MS)
    await expect(composer(page)).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def send_file(page: Page, path: Path) -> None:
    """The composer's attachment button → choose `path` → Upload (Element encrypts it first
    in an encrypted room); waits until the server took the message."""
    async with page.expect_file_chooser() as chooser_info:
        await page.get_by_role("button", name="Attachment").click()
    await (await chooser_info.value).set_files(path)
    await page.get_by_role("dialog").get_by_role("button", name="Upload").click()
    tile = image_tile(page, path.name)
    await expect(tile).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(tile).not_to_have_class(SENDING, timeout=STEP_TIMEOUT_MS)


async def expect_image_shown(page: Page, name: str) -> None:
    """The image message `name` is drawn from real pixels (fetched, decrypted if it was
    encrypted, and decoded by the browser), not a placeholder or an error."""
    image = image_tile(page, name).locator(".mx_MImageBody img").first
    await expect(image).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(image).to_have_js_property("complete", True, timeout=STEP_TIMEOUT_MS)
    width = await image.evaluate("img => img.naturalWidth")
    assert isinstance(width, int), width
    assert width > 0, f"{name} was not drawn"


async def make_favourite(page: Page, room_name: str) -> None:
    """A room's options (its tile's menu) → Favourite; it moves to the Favourites section."""
    tile = room_list(page).get_by_role("treeitem").filter(has_text=room_name)
    await tile.hover()
    await tile.get_by_role("button", name="Room options").click()
    await page.get_by_role("menuitemcheckbox", name="Favourite").click()
    await expect(favourites(page).filter(has_text=room_name)).to_have_count(1)


async def reload(page: Page) -> None:
    """Reload Element from the home view (Element starts again from its stored session)."""
    await page.goto(re.sub(r"#/.*$", "#/home", page.url))
    await page.reload()
    await expect_home(page)


async def open_settings(page: Page, tab: str) -> Locator:
    """User menu → All settings → `tab` (e.g. "Sessions", "Notifications"); the dialog."""
    await page.get_by_role("button", name="User menu").click()
    await page.get_by_role("menuitem", name="All settings").click()
    await page.get_by_role("tab", name=tab).click()
    dialog = page.get_by_role("dialog").filter(has_text="Settings")
    await expect(dialog).to_be_visible(timeout=STEP_TIMEOUT_MS)
    return dialog


async def close_settings(page: Page) -> None:
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("tab", name="Sessions")).to_have_count(0)


def session_tile(settings: Locator, device_id: str) -> Locator:
    """A session in Settings → Sessions (the current one or another), by its device id."""
    return settings.get_by_test_id(f"device-tile-{device_id}")


async def sign_out_other_sessions(page: Page, settings: Locator, password: str) -> None:
    """Settings → Sessions → Other sessions' menu → Sign out, confirmed with the password
    (the server's user-interactive auth)."""
    await settings.get_by_test_id("other-sessions-menu").click()
    await page.get_by_role("menuitem", name=re.compile(r"^Sign out of \d+ sessions?$")).click()
    await page.get_by_role("dialog").last.get_by_role("button", name="Sign out").click()
    auth = page.get_by_role("dialog").filter(has_text="Confirm your identity")
    await auth.get_by_label("Password").fill(password)
    await auth.get_by_role("button", name="Continue").click()
    await expect(settings.get_by_test_id("other-sessions-section")).to_have_count(
        0, timeout=STEP_TIMEOUT_MS
    )


async def expect_signed_out(page: Page) -> None:
    """A session signed out elsewhere learns it on its next request and shows sign-in."""
    await expect(page.locator("#mx_LoginForm_username")).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def device_id(page: Page) -> str:
    """This Element session's device id (Element keeps it in local storage)."""
    found = await page.evaluate("() => localStorage.getItem('mx_device_id')")
    assert isinstance(found, str), found
    return found


# --- what Element shows ------------------------------------------------------------------


def room_list(page: Page) -> Locator:
    return page.get_by_role("tree", name="Rooms")


def favourites(page: Page) -> Locator:
    """The rooms in the room list's Favourites section."""
    return room_list(page).get_by_role("group", name="Favourites").get_by_role("treeitem")


def image_tile(page: Page, name: str) -> Locator:
    """The timeline tile of the image message whose file is called `name`."""
    return page.locator(".mx_EventTile").filter(has=page.locator(f'img[alt="{name}"]'))


def composer(page: Page, *, encrypted: bool = False) -> Locator:
    label = "Send an encrypted message…" if encrypted else "Send a message…"
    return page.get_by_role("textbox", name=label)


def event_tile(page: Page, text: str) -> Locator:
    """The timeline tile whose message body is exactly `text` (so decrypted, not an error)."""
    body = page.locator(".mx_EventTile_body").filter(has_text=re.compile(f"^{re.escape(text)}$"))
    return page.locator(".mx_EventTile").filter(has=body)


async def expect_shield_gone_after_redraw(page: Page, text: str) -> None:
    """Redraw the open room until the message `text` shows no shield (within STEP_TIMEOUT_MS).

    Element learns of a new cross-signing signature from `/sync`'s `device_lists.changed`
    and a `/keys/query` that follow the verification asynchronously; a redraw before that
    answer still shows the old shield, so one redraw is a race on a slow machine.
    """
    deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT_MS / 1000
    while True:
        await reopen_room(page)
        tile = event_tile(page, text)
        await expect(tile).to_be_visible(timeout=STEP_TIMEOUT_MS)
        try:
            await expect(shield(tile)).to_have_count(0, timeout=3_000)
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise


def shield(tile: Locator) -> Locator:
    """Element's padlock/shield on a message: absent when the sender's device is verified by
    its owner; `_warning` (red: device not verified by its owner, or unencrypted),
    `_normal` (grey: e.g. authenticity not guaranteed, as for keys from backup) or
    `_decryption_failure`."""
    return tile.locator(".mx_EventTile_e2eIcon")


async def shield_kind(tile: Locator) -> str | None:
    """`warning`, `normal`, `decryption_failure`, or None when the message has no shield."""
    if await shield(tile).count() == 0:
        return None
    classes = await shield(tile).first.get_attribute("class") or ""
    found = re.search(r"mx_EventTile_e2eIcon_(\w+)", classes)
    return found.group(1) if found else classes


# --- conversation features: threads, edits, reactions, search, upgrades -------------------


def main_timeline(page: Page) -> Locator:
    """The room's own timeline, not a thread open beside it (which shows its root too)."""
    return page.locator(".mx_RoomView_body")


def timeline_tile(page: Page, text: str) -> Locator:
    """The main timeline's tile whose message body contains `text`."""
    body = page.locator(".mx_EventTile_body").filter(has_text=text)
    return main_timeline(page).locator(".mx_EventTile").filter(has=body)


async def message_action(page: Page, text: str, action: str) -> None:
    """Hover the main timeline's message whose body contains `text` and press `action` in
    its action bar ("Reply in thread", "Edit", "React", …)."""
    tile = timeline_tile(page, text)
    await expect(tile).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await tile.hover()
    await (
        tile.locator(".mx_MessageActionBar")
        .get_by_role("button", name=action)
        .click(timeout=STEP_TIMEOUT_MS)
    )


def thread_panel(page: Page) -> Locator:
    """The right panel, where Element shows a thread."""
    return page.locator(".mx_RightPanel")


async def reply_in_thread(page: Page, root_text: str, reply: str) -> None:
    """Start (or continue) the thread on `root_text` from its action bar and send `reply`
    from the thread's own composer; waits until the server took it."""
    await message_action(page, root_text, "Reply in thread")
    # A new thread's composer says "Send a message…", an existing one's "Reply to thread…".
    box = thread_panel(page).get_by_role("textbox")
    await box.fill(reply)
    await box.press("Enter")
    tile = thread_panel(page).locator(".mx_EventTile").filter(has_text=reply)
    await expect(tile).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(tile).not_to_have_class(SENDING, timeout=STEP_TIMEOUT_MS)


def threads_button(page: Page) -> Locator:
    """The room header's Threads button; its `data-indicator` is Compound's dot."""
    return page.locator('.mx_RoomHeader button[aria-label="Threads"]')


async def expect_threads_unread(page: Page, unread: bool) -> None:
    """Whether the header's Threads button shows a notification dot. Element shows
    "success" (a notification, not a highlight) only from the server's per-thread counts
    (`unread_thread_notifications`); unread messages it merely saw make "default"."""
    button = threads_button(page)
    if unread:
        await expect(button).to_have_attribute("data-indicator", "success", timeout=STEP_TIMEOUT_MS)
    else:
        await expect(button).not_to_have_attribute(
            "data-indicator", re.compile("."), timeout=STEP_TIMEOUT_MS
        )


async def expect_thread_reply(page: Page, root_text: str, reply: str) -> None:
    """The root message shows the thread's summary ("1 reply"), and opening it shows
    `reply`."""
    root = timeline_tile(page, root_text)
    summary = root.locator(".mx_ThreadSummary")
    await expect(summary).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(summary).to_contain_text("1 reply")
    await summary.click()
    reply_tile = thread_panel(page).locator(".mx_EventTile").filter(has_text=reply)
    await expect(reply_tile).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def edit_message(page: Page, old: str, new: str) -> None:
    """Edit one's own message `old` in place so that it reads `new`."""
    await message_action(page, old, "Edit")
    box = page.get_by_role("textbox", name="Edit message")
    await expect(box).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await box.press("ControlOrMeta+a")
    await box.press_sequentially(new)
    await box.press("Enter")
    await expect(timeline_tile(page, new)).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def expect_edited(page: Page, text: str) -> None:
    """The message now reads `text` and is marked "(edited)"."""
    tile = timeline_tile(page, text)
    await expect(tile).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(tile.locator(".mx_EventTile_edited")).to_be_visible()


async def react(page: Page, text: str, emoji: str) -> None:
    """React to the message whose body is `text` with one of Element's quick reactions."""
    await message_action(page, text, "React")
    picker = page.locator(".mx_EmojiPicker")
    quick = picker.locator(".mx_EmojiPicker_quick .mx_EmojiPicker_item_wrapper")
    await quick.filter(has_text=emoji).first.click(timeout=STEP_TIMEOUT_MS)
    await page.keyboard.press("Escape")  # the picker stays open for more reactions


async def expect_reaction(page: Page, text: str, emoji: str, count: int) -> None:
    tile = timeline_tile(page, text)
    button = tile.locator(".mx_ReactionsRowButton").filter(has_text=emoji)
    await expect(button).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(button.locator(".mx_ReactionsRowButton_count")).to_have_text(str(count))


async def search_room(page: Page, term: str) -> None:
    """Room info → "Search messages…" → `term`, as Element 1.11 offers it."""
    await page.get_by_role("button", name="Room info").first.click(timeout=STEP_TIMEOUT_MS)
    field = page.get_by_placeholder("Search messages…")
    await field.fill(term)
    await field.press("Enter")


async def expect_search_result(page: Page, term: str) -> None:
    results = page.locator(".mx_RoomView_searchResultsPanel")
    await expect(results).to_be_visible(timeout=STEP_TIMEOUT_MS)
    hit = results.locator(".mx_EventTile").filter(has_text=term)
    await expect(hit.first).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def close_search(page: Page) -> None:
    await page.keyboard.press("Escape")


async def upgrade_room(page: Page, version: str) -> None:
    """The `/upgraderoom` command, then Element's dialog with "Automatically invite
    members" ticked.

    Element offers `/upgraderoom` only in developer mode (its settings show the upgrade
    button only for a room on a version the server does not recommend), so the person
    turns that on first, from `/devtools`."""
    box = main_timeline(page).get_by_role("textbox", name="Send a message…")
    await box.fill("/devtools")
    await box.press("Enter")
    tools = page.get_by_role("dialog")
    developer = tools.get_by_role("switch", name="Developer mode")
    await expect(developer).to_be_visible(timeout=STEP_TIMEOUT_MS)
    if await developer.get_attribute("aria-checked") != "true":
        await developer.click()
    await page.keyboard.press("Escape")
    await expect(tools).to_have_count(0, timeout=STEP_TIMEOUT_MS)
    await box.fill(f"/upgraderoom {version}")
    await box.press("Enter")
    dialog = page.get_by_role("dialog")
    invite = dialog.get_by_role("switch", name=re.compile("Automatically invite members"))
    if await invite.count() and await invite.get_attribute("aria-checked") != "true":
        await invite.click()
    await dialog.get_by_role("button", name="Upgrade").click(timeout=STEP_TIMEOUT_MS)
    await expect(dialog).to_have_count(0, timeout=STEP_TIMEOUT_MS)


async def expect_room_replaced(page: Page) -> None:
    """The old room's composer gives way to Element's notice that the room was replaced;
    its link leads into the new room, joined."""
    notice = page.get_by_text("This room has been replaced and is no longer active.")
    await expect(notice).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await page.get_by_text("The conversation continues here.").click()
    # Element joins the new room (the upgrade invited everyone) and opens it.
    await expect(notice).to_have_count(0, timeout=STEP_TIMEOUT_MS)
    new_composer = main_timeline(page).get_by_role("textbox", name="Send a message…")
    await expect(new_composer).to_be_visible(timeout=STEP_TIMEOUT_MS)
