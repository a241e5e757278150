"""MatrixTestClient: register, login, create_room, send, sync — so tests read as scenarios."""

import itertools
from typing import Any

import httpx

V3 = "/_matrix/client/v3"
_txn = itertools.count()


class MatrixTestClient:
    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str, device_id: str) -> None:
        self.http = http
        self.user_id = user_id
        self.token = token
        self.device_id = device_id

    @classmethod
    async def register(
        cls, http: httpx.AsyncClient, username: str, password: str = "correct horse"
    ) -> "MatrixTestClient":
        r = await http.post(
            f"{V3}/register",
            json={"username": username, "password": password, "auth": {"type": "m.login.dummy"}},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return cls(http, body["user_id"], body["access_token"], body["device_id"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"{V3}{path}", headers=self.headers, **kwargs)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.request(method, path, **kwargs)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    async def create_room(self, **body: Any) -> str:
        room_id: str = (await self.ok("POST", "/createRoom", json=body))["room_id"]
        return room_id

    async def join(self, room: str) -> None:
        await self.ok("POST", f"/join/{room}", json={})

    async def invite(self, room: str, user_id: str) -> None:
        await self.ok("POST", f"/rooms/{room}/invite", json={"user_id": user_id})

    async def send(self, room: str, body: str, txn: str | None = None) -> str:
        txn = txn or f"t{next(_txn)}"
        r = await self.ok(
            "PUT",
            f"/rooms/{room}/send/m.room.message/{txn}",
            json={"msgtype": "m.text", "body": body},
        )
        event_id: str = r["event_id"]
        return event_id

    async def sync(self, since: str | None = None, **params: Any) -> Any:
        if since is not None:
            params["since"] = since
        return await self.ok("GET", "/sync", params=params)

    async def messages(self, room: str, **params: Any) -> Any:
        return await self.ok("GET", f"/rooms/{room}/messages", params=params)
