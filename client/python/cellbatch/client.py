"""client: cellbatch.Client, the synchronous client — one call at a time per thread, or many
calls as multi messages."""

from __future__ import annotations

import queue
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ._core import GEOCODE, REVERSE, Answer, Handle, chunks
from .errors import Error, error_for
from .location import Location

#: progress(done, total), called on the caller's thread as answers arrive
Progress = Callable[[int, int], None]


class Client:
    """A connection to cellbatchd. Thread-safe: share one between threads.

    ``url``: ``$CELLBATCH_URL`` when None, else the default socket; "5555", "host:port",
    "/path" and full nng URLs (ipc://, tcp://, tls+tcp://, wss://; TLS files from
    ``$CELLBATCH_TLS_CA``, ``_CERT``, ``_KEY``) work. ``timeout``: seconds per call.
    ``token``: sent with every call to a server started with --auth-token-file
    (None: ``$CELLBATCH_TOKEN``). Raises Unreachable when nothing listens there.
    """

    def __init__(self, url: Optional[str] = None, timeout: float = 60.0,
                 token: Optional[str] = None) -> None:
        self._h = Handle(url, timeout, token)
        self.url = self._h.url
        self.timeout = timeout

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection; calls still waiting in other threads fail with CLOSED."""
        self._h.close()

    def geocode(self, text: str, *, lang: Optional[str] = None, type: Optional[str] = None,
                filter: Optional[str] = None, bias: Optional[str] = None,
                countrycodes: Optional[str] = None) -> Optional[Location]:
        """The location of text, or None when the geocoder knows no such place.
        Raises an Error subclass (BadRequest, Timeout, Unreachable, ...) when the call fails.
        Options are the upstream's; calls with different options never share a batch."""
        opts = dict(lang=lang, type=type, filter=filter, bias=bias, countrycodes=countrycodes)
        return _raise_or_return(self._h.call_sync(GEOCODE, text, opts))

    def reverse(self, lat: float, lon: float, **opts: Any) -> Optional[Location]:
        """The address at (lat, lon) as a Location, or None when there is none."""
        return _raise_or_return(self._h.call_sync(REVERSE, (lat, lon), opts))

    def geocode_async(self, text: str, done: Callable[[Answer], None], **opts: Any) -> None:
        """Starts one geocode and returns at once, like a spreadsheet's async UDF:
        done(answer) — a Location, None or an Error instance — fires exactly once, on a
        libcellbatch thread (keep it short; hand the answer to your own thread or loop).
        Raises (and done never fires) when the call cannot start."""
        self._h.call_async(GEOCODE, text, opts, done)

    def reverse_async(self, lat: float, lon: float, done: Callable[[Answer], None],
                      **opts: Any) -> None:
        """reverse() started like geocode_async()."""
        self._h.call_async(REVERSE, (lat, lon), opts, done)

    def geocode_many(self, texts: Iterable[str], *, progress: Optional[Progress] = None,
                     **opts: Any) -> List[Answer]:
        """Every text's answer, in input order: a Location, None (not found) or an Error
        instance (not raised). Sent as multi messages of up to 1,000 calls, all at once."""
        return self._many(GEOCODE, list(texts), progress, opts)

    def reverse_many(self, pairs: Iterable[Tuple[float, float]], *,
                     progress: Optional[Progress] = None, **opts: Any) -> List[Answer]:
        """reverse() of every (lat, lon), like geocode_many."""
        return self._many(REVERSE, list(pairs), progress, opts)

    def _many(self, fn: int, args: Sequence[Any], progress: Optional[Progress],
              opts: Dict[str, Any]) -> List[Answer]:
        out: List[Answer] = [None] * len(args)
        arrived: "queue.Queue[Tuple[int, List[Answer]]]" = queue.Queue()
        ranges = chunks(len(args))
        for start, end in ranges:
            try:
                self._h.multi_async(fn, args[start:end], opts,
                                    lambda res, s=start: arrived.put((s, res)))
            except Error as e:
                arrived.put((start, [e] * (end - start)))
        done = 0
        for _ in ranges:
            # the library answers every multi by its timeout, so this wait ends
            start, res = arrived.get()
            out[start:start + len(res)] = res
            done += len(res)
            if progress is not None:
                progress(done, len(args))
        return out

    def stats(self) -> Dict[str, Any]:
        """The server's stats map (docs/stats.md)."""
        return self._h.stats()

    def ping(self) -> str:
        """The server's version; raises Unreachable, Timeout ... when it does not answer."""
        return self._h.ping()


def _raise_or_return(a: Answer) -> Optional[Location]:
    if isinstance(a, Error):
        raise a
    return a


__all__ = ["Client", "Progress", "error_for"]
