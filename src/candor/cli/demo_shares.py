"""Two weeks of recommendations in a few seconds: senders use the launcher, recipients
click the cards' links with their own web sessions, day by day on the demo clock.

The schedule is seeded, so every run tells the same story: on a handful of "campaign"
days many people take part in one (interface, surface, variant) cell, enough for the
k-threshold to release it; on the other days a few scattered shares and clicks stay
below k and the report suppresses them.
"""

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from candor.cli.demo_support import DemoClock, Person, expect

PARTNER_HOST = "watch.streamflix.example"
TITLES = [
    "The Long Night",
    "Harbour Lights",
    "Paper Moons",
    "Salt & Stone",
    "The Quiet Engine",
    "North of Nowhere",
    "Glass Orchard",
    "Midnight Tram",
    "A Year of Kites",
    "Copper Sky",
]
# day of the period -> the cell (interface, surface, variant) of that day's campaign
CAMPAIGNS = {
    1: ("web", "player", "a"),
    2: ("web", "player", "b"),
    4: ("ios", "detail", "a"),
    8: ("web", "player", "a"),
    9: ("web", "player", "b"),
    11: ("ios", "detail", "b"),
}
SMALL_CELLS = [
    ("web", "home", "a"),
    ("android", "player", "b"),
    ("ios", "home", "a"),
    ("android", "detail", "b"),
]


@dataclass(frozen=True)
class Room:
    name: str
    room_id: str
    members: tuple[Person, ...]


@dataclass(frozen=True)
class Card:
    sender: Person
    room: Room
    link: str
    day: int


@dataclass
class Tally:
    sends: int = 0
    clicks: int = 0
    by_variant: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    late_clicks: int = 0


def card_fields(rng: random.Random, cell: tuple[str, str, str]) -> dict[str, str]:
    n = rng.randrange(len(TITLES))
    interface, surface, variant = cell
    return {
        "url": f"https://{PARTNER_HOST}/title/{n + 100}",
        "title": TITLES[n],
        "description": "Now streaming on StreamFlix",
        "interface": interface,
        "surface": surface,
        "variant": variant,
    }


async def _links_of_new_cards(room: Room, reader: Person, seen: set[str]) -> list[tuple[str, str]]:
    """(sender, link) of the cards in `room` not seen before (read with the Matrix API)."""
    out = []
    for event in await reader.recent(room.room_id):
        card = event.get("content", {}).get("io.candor.card")
        if isinstance(card, dict) and card.get("link") and card["link"] not in seen:
            seen.add(card["link"])
            out.append((event["sender"], str(card["link"])))
    return out


class Simulation:
    def __init__(
        self,
        clock: DemoClock,
        start: date,
        app_id: str,
        people: list[Person],
        groups: list[Room],
        dms: list[Room],
    ) -> None:
        self.clock = clock
        self.start = start
        self.app_id = app_id
        self.people = people
        self.big_room = groups[0]
        self.small_rooms = groups[1:] + dms
        self.rng = random.Random(6)  # noqa: S311 - a story, not a secret: the same every run
        self.cards: list[Card] = []
        self.seen: set[str] = set()
        self.tally = Tally()

    async def _send_all(self, plan: list[tuple[Person, Room, dict[str, str]]], day: int) -> None:
        by_sender: dict[str, list[tuple[Person, Room, dict[str, str]]]] = defaultdict(list)
        for item in plan:
            by_sender[item[0].name].append(item)

        async def one_sender(items: list[tuple[Person, Room, dict[str, str]]]) -> None:
            for sender, room, fields in items:
                await sender.share(self.app_id, fields, [room.room_id])
                self.tally.sends += 1
                self.tally.by_variant[fields["variant"]] += 1

        await asyncio.gather(*(one_sender(items) for items in by_sender.values()))
        rooms = {room.room_id: room for _, room, _ in plan}
        found = await asyncio.gather(
            *(_links_of_new_cards(r, r.members[0], self.seen) for r in rooms.values())
        )
        by_name = {p.user_id: p for p in self.people}
        for room, links in zip(rooms.values(), found, strict=True):
            self.cards.extend(Card(by_name[s], room, link, day) for s, link in links)

    async def _click_all(self, clicks: list[tuple[Person, Card]]) -> None:
        per_person: dict[str, list[tuple[Person, Card]]] = defaultdict(list)
        for item in clicks:
            per_person[item[0].name].append(item)

        async def one_person(items: list[tuple[Person, Card]]) -> None:
            for person, card in items:  # one person's clicks in order: first, then repeats
                where = await person.click(card.link)
                expect(where.startswith(f"https://{PARTNER_HOST}/"), f"redirected to {where}")
                self.tally.clicks += 1

        await asyncio.gather(*(one_person(items) for items in per_person.values()))

    def _recipients(self, card: Card) -> list[Person]:
        return [p for p in card.room.members if p is not card.sender]

    async def day(self, d: int) -> str:
        """Run day `d` of the period; return one line saying what happened."""
        when = datetime.combine(self.start + timedelta(d), time(10, 0), UTC)
        self.clock.set(when)
        rng = self.rng
        plan: list[tuple[Person, Room, dict[str, str]]] = []
        campaign = CAMPAIGNS.get(d)
        if campaign is not None:
            for sender in rng.sample(list(self.big_room.members), 5):
                plan.append((sender, self.big_room, card_fields(rng, campaign)))
        for _ in range(rng.randint(1, 2)):
            room = rng.choice(self.small_rooms)
            plan.append((rng.choice(room.members), room, card_fields(rng, rng.choice(SMALL_CELLS))))
        before = len(self.cards)
        await self._send_all(plan, d)
        today = self.cards[before:]
        clicks: list[tuple[Person, Card]] = []
        if campaign is not None:
            campaign_cards = [c for c in today if c.room is self.big_room]
            senders = {c.sender.name for c in campaign_cards}
            clickers = [p for p in self.big_room.members if p.name not in senders]
            for person in rng.sample(clickers, 6):
                card = rng.choice(campaign_cards)
                clicks.append((person, card))
                if rng.random() < 0.5:
                    clicks.append((person, card))  # a repeat click
        for card in today:
            if card.room is not self.big_room:
                who = rng.choice(self._recipients(card))
                clicks.append((who, card))
        yesterday = [c for c in self.cards if c.day == d - 1 and c.room is not self.big_room]
        for card in yesterday[:1]:  # someone opens yesterday's card a day late
            clicks.append((rng.choice(self._recipients(card)), card))
            self.tally.late_clicks += 1
        await self._click_all(clicks)
        return f"{_n(len(today), 'card')}, {_n(len(clicks), 'click')}" + (
            f" (campaign {'/'.join(campaign)})" if campaign else ""
        )

    async def run(self, days: int, on_day: Callable[[int, str], None]) -> Tally:
        for d in range(days):
            on_day(d, await self.day(d))
        return self.tally


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
