"""_core: what the sync and asyncio clients share — a cb_client handle, calls built from Python
arguments, results turned into Location / None / Error, and callbacks from library threads.

libcellbatch calls back on its own threads. One ctypes thunk per kind serves every call of every
client; the call's ``user`` pointer is a number naming the Python callback in a registry, so no
Python object's address ever crosses into C.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _native
from ._native import Call, ClientOptions, Result, lib
from .errors import Error, ErrorCode, error_for
from .location import Location

Answer = Union[Location, None, Error]
GEOCODE = _native.CB_FN["CB_FN_GEOCODE"]
REVERSE = _native.CB_FN["CB_FN_REVERSE"]
OPTION_NAMES = ("lang", "type", "filter", "bias", "countrycodes")
MULTI_CHUNK = 1000  # a multi of up to this many calls fills one upstream batch, never more

_registry: Dict[int, Callable[..., None]] = {}
_registry_mu = threading.Lock()
_ids = itertools.count(1)
#: callbacks that named no registered call: a library callback fired twice (tests assert 0)
stray_callbacks = 0


def _take(user: Optional[int]) -> Optional[Callable[..., None]]:
    global stray_callbacks
    with _registry_mu:
        cb = _registry.pop(user or 0, None)
        if cb is None:
            stray_callbacks += 1
    return cb


def _text(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


def answer(r: Result) -> Answer:
    """A cb_result as Python: a Location, None for NOT_FOUND, or an Error instance."""
    if r.err == ErrorCode.NOT_FOUND:
        return None
    if r.err != 0:
        return error_for(r.err, _text(r.message))
    rt = r.result_type.decode("utf-8", "replace") if r.result_type is not None else None
    conf = r.confidence if r.has_confidence else None
    raw = {"lat": r.lat, "lon": r.lon, "formatted": _text(r.formatted), "confidence": conf,
           "result_type": rt, "cached": bool(r.cached), "batch_size": r.batch_size,
           "wait_ms": r.wait_ms}
    return Location(r.lat, r.lon, raw["formatted"], conf, rt, bool(r.cached), r.batch_size, raw)


def _on_done(user: Optional[int], res: Any) -> None:
    cb = _take(user)
    if cb is not None:
        cb(answer(res.contents))


def _on_multi_done(user: Optional[int], res: Any, n: int) -> None:
    cb = _take(user)
    if cb is not None:
        cb([answer(res[i]) for i in range(n)])


# module-level: they must outlive every call that may still fire them
_DONE_THUNK = _native.DONE(_on_done)
_MULTI_THUNK = _native.MULTI_DONE(_on_multi_done)


def _opt(v: Optional[str]) -> Optional[bytes]:
    return v.encode("utf-8") if v is not None else None


def fill_call(c: Call, fn: int, arg: Any, opts: Dict[str, Any]) -> None:
    """Sets c to one call: fn GEOCODE with a str, REVERSE with (lat, lon); opts as geocode's."""
    unknown = set(opts) - set(OPTION_NAMES) - {"timeout"}
    if unknown:
        raise TypeError("unknown option(s): %s" % ", ".join(sorted(unknown)))
    c.size = ctypes.sizeof(Call)
    c.fn = fn
    if fn == GEOCODE:
        if not isinstance(arg, str):
            raise TypeError("geocode takes a str, not %s" % type(arg).__name__)
        c.text = arg.encode("utf-8")
    else:
        c.lat, c.lon = float(arg[0]), float(arg[1])
    for name in OPTION_NAMES:
        v = opts.get(name)
        if v is not None:
            setattr(c, name, _opt(str(v)))
    if opts.get("timeout") is not None:
        c.timeout_ms = max(1, int(opts["timeout"] * 1000))


def default_url() -> Optional[str]:
    """$CELLBATCH_URL, else None: the library's default socket."""
    return os.environ.get("CELLBATCH_URL") or None


class Handle:
    """One open cb_client. Thread-safe, as libcellbatch's client is."""

    def __init__(self, url: Optional[str], timeout: float, token: Optional[str]) -> None:
        self.url = url if url is not None else default_url()
        self.timeout = timeout
        opts = ClientOptions(ctypes.sizeof(ClientOptions), max(1, int(timeout * 1000)), 0,
                             _opt(token))
        h = ctypes.c_void_p()
        err = lib.cb_client_open(ctypes.byref(h), _opt(self.url), ctypes.byref(opts))
        if err != 0:
            raise error_for(err, "cannot reach cellbatchd at %s" % (self.url or "the default socket")
                            if err == ErrorCode.UNREACHABLE else "")
        self._h: Optional[int] = h.value
        # close() frees the C client: it waits until no thread is between reading the handle
        # and the library call using it returning (a start, a ping, a stats)
        self._mu = threading.Condition()
        self._using = 0

    def _enter(self) -> int:
        with self._mu:
            if self._h is None:
                raise error_for(ErrorCode.CLOSED, "the client is closed")
            self._using += 1
            return self._h

    def _leave(self) -> None:
        with self._mu:
            self._using -= 1
            if self._using == 0:
                self._mu.notify_all()

    def _start(self, done: Callable[[Any], None], start: Callable[[Any, int], int]) -> None:
        """Registers done under a fresh id and runs start(handle, id), the library call that
        will fire it; unregisters it and raises when the library refused the call."""
        uid = next(_ids)
        with _registry_mu:
            _registry[uid] = done
        h = self._enter()
        try:
            err = start(h, uid)
        finally:
            self._leave()
        if err != 0:
            with _registry_mu:
                _registry.pop(uid, None)
            raise error_for(err)

    def call_async(self, fn: int, arg: Any, opts: Dict[str, Any],
                   done: Callable[[Answer], None]) -> None:
        """Starts one call; done(answer) fires once on a library thread, unless this raises."""
        c = Call()
        fill_call(c, fn, arg, opts)
        self._start(done, lambda h, uid: lib.cb_call_async(h, ctypes.byref(c), _DONE_THUNK, uid))

    def multi_async(self, fn: int, args: Sequence[Any], opts: Dict[str, Any],
                    done: Callable[[List[Answer]], None]) -> None:
        """Sends len(args) calls as one message; done(list of answers) fires once."""
        calls = (Call * len(args))()
        for i, a in enumerate(args):
            fill_call(calls[i], fn, a, opts)
        self._start(done, lambda h, uid: lib.cb_multi_async(h, calls, len(args), _MULTI_THUNK,
                                                             uid))

    def call_sync(self, fn: int, arg: Any, opts: Dict[str, Any]) -> Answer:
        """One call, waited for (the GIL is released meanwhile). Built on call_async rather
        than cb_call_sync, so that close() never frees the client under a waiting thread."""
        box: List[Answer] = []
        ev = threading.Event()

        def done(a: Answer) -> None:
            box.append(a)
            ev.set()

        self.call_async(fn, arg, opts, done)
        ev.wait()  # the library answers every call by its timeout, or CLOSED on close()
        return box[0]

    def ping(self) -> str:
        buf = ctypes.create_string_buffer(64)
        h = self._enter()
        try:
            err = lib.cb_ping(h, buf, len(buf))
        finally:
            self._leave()
        if err != 0:
            raise error_for(err)
        return buf.value.decode()

    def stats(self) -> Dict[str, Any]:
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        h = self._enter()
        try:
            err = lib.cb_stats(h, ctypes.byref(buf), ctypes.byref(n))
        finally:
            self._leave()
        if err != 0:
            raise error_for(err)
        try:
            data = ctypes.string_at(buf.value, n.value)
        finally:
            lib.cb_free(buf)
        from ._msgpack import unpack
        return unpack(data)

    def close(self) -> None:
        """Cancels what is outstanding (each callback fires first, CLOSED) and frees the client."""
        with self._mu:
            h, self._h = self._h, None
            while self._using:
                self._mu.wait()
        if h is not None:
            lib.cb_client_close(h)


def chunks(n: int, size: int = MULTI_CHUNK) -> List[Tuple[int, int]]:
    """[start, end) ranges covering n items in pieces of at most size."""
    return [(s, min(s + size, n)) for s in range(0, n, size)]
