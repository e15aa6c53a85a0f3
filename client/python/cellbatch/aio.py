"""aio: cellbatch.aio.Client, the asyncio client — the sync client's API with ``async def``,
on cb_call_async, so 10,000 concurrent ``await client.geocode(...)`` cost no thread each.

Answers arrive on libcellbatch's threads; they are handed to the event loop with
``loop.call_soon_threadsafe`` (one per burst of answers, see _Inbox), and futures are only ever
touched on the loop's thread.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import weakref
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ._core import GEOCODE, REVERSE, Answer, Handle, chunks
from .client import Progress
from .errors import Error
from .location import Location


def _settle(fut: "asyncio.Future[Any]", value: Any) -> None:
    if fut.cancelled():
        return  # the awaiting task gave up; the call still ran and was answered
    if isinstance(value, Error):
        fut.set_exception(value)
    else:
        fut.set_result(value)


class _Inbox:
    """Answers on their way from library threads to one loop. A burst of answers costs one
    loop.call_soon_threadsafe (one wakeup of the loop), not one per answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._mu = threading.Lock()
        self._items: "collections.deque[Tuple[asyncio.Future[Any], Any]]" = collections.deque()
        self._scheduled = False

    def put(self, fut: "asyncio.Future[Any]", value: Any) -> None:
        """Any thread: value is fut's answer."""
        with self._mu:
            self._items.append((fut, value))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            pass  # the loop was closed with calls outstanding: nobody awaits them any more

    def _drain(self) -> None:
        with self._mu:
            items, self._items = self._items, collections.deque()
            self._scheduled = False
        for fut, value in items:
            _settle(fut, value)


class Client:
    """The asyncio twin of cellbatch.Client (same arguments). Use it from one event loop,
    ``async with cellbatch.aio.Client() as c: loc = await c.geocode("...")``."""

    def __init__(self, url: Optional[str] = None, timeout: float = 60.0,
                 token: Optional[str] = None) -> None:
        # the dial is quick (nothing listening is an answer at once), so it is not awaited
        self._h = Handle(url, timeout, token)
        self.url = self._h.url
        self.timeout = timeout
        self._inboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox]" = \
            weakref.WeakKeyDictionary()

    def _inbox(self, loop: asyncio.AbstractEventLoop) -> _Inbox:
        box = self._inboxes.get(loop)
        if box is None:
            box = self._inboxes[loop] = _Inbox(loop)
        return box

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the connection; pending calls fail with CLOSED. Waits in a worker thread,
        because closing waits for the library's callbacks, which need the loop to be free."""
        await asyncio.get_running_loop().run_in_executor(None, self._h.close)

    def _start(self, fn: int, arg: Any, opts: Dict[str, Any]) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        box = self._inbox(loop)
        self._h.call_async(fn, arg, opts, lambda value: box.put(fut, value))
        return fut

    async def geocode(self, text: str, *, lang: Optional[str] = None,
                      type: Optional[str] = None, filter: Optional[str] = None,
                      bias: Optional[str] = None,
                      countrycodes: Optional[str] = None) -> Optional[Location]:
        """The location of text or None; raises an Error subclass when the call fails."""
        opts = dict(lang=lang, type=type, filter=filter, bias=bias, countrycodes=countrycodes)
        return await self._start(GEOCODE, text, opts)

    async def reverse(self, lat: float, lon: float, **opts: Any) -> Optional[Location]:
        """The address at (lat, lon) as a Location, or None."""
        return await self._start(REVERSE, (lat, lon), opts)

    async def geocode_many(self, texts: Iterable[str], *, progress: Optional[Progress] = None,
                           **opts: Any) -> List[Answer]:
        """Like cellbatch.Client.geocode_many; progress runs on the loop's thread."""
        return await self._many(GEOCODE, list(texts), progress, opts)

    async def reverse_many(self, pairs: Iterable[Tuple[float, float]], *,
                           progress: Optional[Progress] = None, **opts: Any) -> List[Answer]:
        """Like cellbatch.Client.reverse_many."""
        return await self._many(REVERSE, list(pairs), progress, opts)

    async def _many(self, fn: int, args: Sequence[Any], progress: Optional[Progress],
                    opts: Dict[str, Any]) -> List[Answer]:
        loop = asyncio.get_running_loop()
        box = self._inbox(loop)
        out: List[Answer] = [None] * len(args)
        futs = []
        for start, end in chunks(len(args)):
            fut = loop.create_future()
            try:
                self._h.multi_async(fn, args[start:end], opts,
                                    lambda res, f=fut: box.put(f, res))
            except Error as e:
                fut.set_result([e] * (end - start))
            futs.append((start, fut))
        by_fut = {f: s for s, f in futs}
        pending, done = set(by_fut), 0
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for f in finished:
                res = f.result()
                out[by_fut[f]:by_fut[f] + len(res)] = res
                done += len(res)
                if progress is not None:
                    progress(done, len(args))
        return out

    async def stats(self) -> Dict[str, Any]:
        """The server's stats map (docs/stats.md)."""
        return await asyncio.get_running_loop().run_in_executor(None, self._h.stats)

    async def ping(self) -> str:
        """The server's version."""
        return await asyncio.get_running_loop().run_in_executor(None, self._h.ping)
