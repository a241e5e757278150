"""Idle /sync long-polls wait outside the request's call stack.

A long-poll that waited inside its endpoint kept every frame of the way there alive for up
to a minute: FastAPI's routing and dependency exit stacks, Starlette's exception
middlewares, Candor's own middlewares, the request object, the wait's task. That was
~35 KiB of Python objects per idle connection, most of the server's memory at a few
thousand waiting clients (issue 17 asks for at most 10 KiB).

So the endpoint returns `ParkedSync` instead of waiting: called as a response, it hands the
`LongPoll` and the `send` it was given (the middlewares' wrapped `send`, which still adds
their headers) to `LongPollParking`, the outermost layer of the app, and returns. Every
frame between the two unwinds; the parking layer then waits for `LongPoll.finish()` and
sends the answer through that `send`. Without the parking layer (an app that does not
install it) the response waits in place, as before.
"""

import logging

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from candor.core.errors import CandorError
from candor.matrix.errors import Codes
from candor.matrix.http import json_response
from candor.matrix.sync.service import LongPoll

logger = logging.getLogger(__name__)

# The scope key through which a parked long-poll reaches the parking layer: a list the
# layer puts there and reads back when the app returns (shallow scope copies share it).
PARKED = "candor.parked_sync"


class ParkedSync(Response):
    """The response of a /sync with nothing to say yet."""

    def __init__(self, poll: LongPoll) -> None:
        super().__init__(status_code=200, media_type="application/json")
        self.poll = poll

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parked = scope.get(PARKED)
        if isinstance(parked, list):
            parked.append((self.poll, send))
            return
        await answer(self.poll, scope, receive, send)


async def answer(poll: LongPoll, scope: Scope, receive: Receive, send: Send) -> None:
    """Wait for the long-poll, then send its answer."""
    try:
        response = json_response(await poll.finish())
    except Exception as exc:  # each becomes an answer (`error_response`)
        response = error_response(exc)
    await response(scope, receive, send)


def error_response(exc: Exception) -> Response:
    """The API's error answer for a long-poll that failed (the app's error handlers are no
    longer on the stack)."""
    if isinstance(exc, CandorError):
        response = json_response(exc.to_json(), exc.status)
        response.headers.update(exc.headers)
        return response
    logger.error("unhandled error on a parked /sync", exc_info=exc)
    return json_response({"errcode": Codes.UNKNOWN, "error": "Internal server error"}, 500)


class LongPollParking:
    """The app's outermost layer: finishes the long-polls the app parked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parked: list[tuple[LongPoll, Send]] = []
        scope[PARKED] = parked
        try:
            await self.app(scope, receive, send)
        except BaseException:
            for poll, _ in parked:
                poll.close()
            raise
        if not parked:
            return
        poll, wrapped_send = parked.pop()
        del scope[PARKED]
        # `answer`'s body, inlined: its coroutine would be one more frame per idle poll.
        try:
            response = json_response(await poll.finish())
        except Exception as exc:  # each becomes an answer (`error_response`)
            response = error_response(exc)
        await response(scope, receive, wrapped_send)
