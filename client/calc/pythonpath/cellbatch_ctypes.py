"""cellbatch_ctypes: libcellbatch from Python through ctypes, for the Calc add-in (no UNO here).

The C library stays the one implementation of the protocol; this module only
mirrors cellbatch.h's structs and wraps cb_call_async and cb_multi_async.
"""

import ctypes
import os
import threading

# cb_err codes that never travel on the wire; cb_err_name() returns NULL for them,
# so cells show these names instead (README: "Errors in cells").
LOCAL_NAMES = {
    64: "NO_MEMORY",
    65: "INVALID_ARGUMENT",
    66: "UNREACHABLE",
    67: "PROTOCOL_ERROR",
    68: "CLOSED",
    69: "IO_ERROR",
}
CB_ETIMEOUT = 8
CB_EUNREACHABLE = 66
CB_ECLOSED = 68
CB_FN_GEOCODE = 0
CB_FN_REVERSE = 1
MAX_MULTI = 10000  # cb_multi_async's limit


class _Call(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("fn", ctypes.c_int),
        ("text", ctypes.c_char_p),
        ("lat", ctypes.c_double),
        ("lon", ctypes.c_double),
        ("lang", ctypes.c_char_p),
        ("type", ctypes.c_char_p),
        ("filter", ctypes.c_char_p),
        ("bias", ctypes.c_char_p),
        ("countrycodes", ctypes.c_char_p),
        ("timeout_ms", ctypes.c_uint),
    ]


class _Result(ctypes.Structure):
    _fields_ = [
        ("err", ctypes.c_int),
        ("message", ctypes.c_char_p),
        ("lat", ctypes.c_double),
        ("lon", ctypes.c_double),
        ("formatted", ctypes.c_char_p),
        ("has_confidence", ctypes.c_int),
        ("confidence", ctypes.c_double),
        ("result_type", ctypes.c_char_p),
        ("cached", ctypes.c_int),
        ("batch_size", ctypes.c_ulonglong),
        ("wait_ms", ctypes.c_double),
    ]


class _Options(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("timeout_ms", ctypes.c_uint), ("retries", ctypes.c_uint),
                ("token", ctypes.c_char_p)]


_DONE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Result))
_MULTI_DONE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Result), ctypes.c_size_t)


class Result:
    """One answer, copied out of the library's borrowed cb_result."""

    __slots__ = ("err", "code", "message", "lat", "lon", "formatted", "cached", "batch_size")

    def __init__(self, err, code, message="", lat=0.0, lon=0.0, formatted="", cached=False,
                 batch_size=0):
        self.err, self.code, self.message = err, code, message
        self.lat, self.lon, self.formatted = lat, lon, formatted
        self.cached, self.batch_size = cached, batch_size

    @property
    def ok(self):
        return self.err == 0

    def __repr__(self):
        if self.ok:
            return "Result(%r, %r, %r)" % (self.lat, self.lon, self.formatted)
        return "Result(%s: %s)" % (self.code, self.message)


def _find_library():
    """$CELLBATCH_LIB, else the copy shipped beside this file in the .oxt, else the system's."""
    explicit = os.environ.get("CELLBATCH_LIB")
    if explicit:
        return explicit
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libcellbatch.so.1")
    return here if os.path.exists(here) else "libcellbatch.so.1"


class Library:
    """The loaded libcellbatch with its prototypes declared."""

    def __init__(self, path=None):
        self.path = path or _find_library()
        lib = ctypes.CDLL(self.path)
        lib.cb_client_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                       ctypes.POINTER(_Options)]
        lib.cb_client_open.restype = ctypes.c_int
        lib.cb_client_close.argtypes = [ctypes.c_void_p]
        lib.cb_client_close.restype = None
        lib.cb_call_async.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Call), _DONE,
                                      ctypes.c_void_p]
        lib.cb_call_async.restype = ctypes.c_int
        lib.cb_multi_async.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Call), ctypes.c_size_t,
                                       _MULTI_DONE, ctypes.c_void_p]
        lib.cb_multi_async.restype = ctypes.c_int
        lib.cb_err_name.argtypes = [ctypes.c_int]
        lib.cb_err_name.restype = ctypes.c_char_p
        lib.cb_strerror.argtypes = [ctypes.c_int]
        lib.cb_strerror.restype = ctypes.c_char_p
        lib.cb_version.argtypes = []
        lib.cb_version.restype = ctypes.c_char_p
        self.lib = lib

    def code(self, err):
        """The text a cell shows for err: the wire name, or LOCAL_NAMES' for local codes."""
        name = self.lib.cb_err_name(err)
        return name.decode() if name else LOCAL_NAMES.get(err, "ERROR_%d" % err)

    def error(self, err, message=None):
        if message is None:
            message = self.lib.cb_strerror(err).decode("utf-8", "replace")
        return Result(err, self.code(err), message)

    def result(self, r):
        if r.err != 0:
            msg = r.message.decode("utf-8", "replace") if r.message else ""
            return self.error(r.err, msg)
        return Result(0, "OK", "", r.lat, r.lon,
                      r.formatted.decode("utf-8", "replace") if r.formatted else "",
                      bool(r.cached), r.batch_size)


def _encode_call(fn, arg, c):
    c.size = ctypes.sizeof(_Call)
    c.fn = fn
    if fn == CB_FN_GEOCODE:
        c.text = arg.encode("utf-8")
    else:
        c.lat, c.lon = arg


class Client:
    """One cb_client. Thread-safe. Callbacks run on library threads and must not block."""

    def __init__(self, library, url=None, timeout_ms=0, token=None):
        """token: sent as auth with every call (None: the library reads $CELLBATCH_TOKEN)."""
        self._lib = library
        self.url = url
        self.timeout_ms = timeout_ms or 60000
        self._mu = threading.Lock()
        self._next = 1
        self._pending = {}  # user id -> (callback, keep-alive objects)
        # the ctypes thunks must outlive every call that may still fire them
        self._done_thunk = _DONE(self._on_done)
        self._multi_thunk = _MULTI_DONE(self._on_multi_done)
        h = ctypes.c_void_p()
        opts = _Options(ctypes.sizeof(_Options), self.timeout_ms, 0, token.encode() if token is not None else None)
        err = library.lib.cb_client_open(ctypes.byref(h), url.encode() if url else None,
                                         ctypes.byref(opts))
        if err != 0:
            raise ClientError(library.error(err))
        self._h = h

    def _register(self, cb, keep):
        with self._mu:
            uid = self._next
            self._next += 1
            self._pending[uid] = (cb, keep)
        return uid

    def _take(self, uid):
        with self._mu:
            return self._pending.pop(uid)

    def _on_done(self, user, res):
        cb, _ = self._take(user)
        cb(self._lib.result(res.contents))

    def _on_multi_done(self, user, res, n):
        cb, _ = self._take(user)
        cb([self._lib.result(res[i]) for i in range(n)])

    def call_async(self, fn, arg, done):
        """Starts one call (fn CB_FN_GEOCODE with a str, CB_FN_REVERSE with (lat, lon)).
        done(Result) fires exactly once, on a library thread, unless this raises ClientError."""
        c = _Call()
        _encode_call(fn, arg, c)
        uid = self._register(done, c)
        err = self._lib.lib.cb_call_async(self._h, ctypes.byref(c), self._done_thunk, uid)
        if err != 0:
            self._take(uid)
            raise ClientError(self._lib.error(err))

    def multi_async(self, fn, args, done):
        """Sends len(args) (1..MAX_MULTI) calls as one message; done(list of Result) fires once."""
        calls = (_Call * len(args))()
        for i, a in enumerate(args):
            _encode_call(fn, a, calls[i])
        uid = self._register(done, calls)
        err = self._lib.lib.cb_multi_async(self._h, calls, len(args), self._multi_thunk, uid)
        if err != 0:
            self._take(uid)
            raise ClientError(self._lib.error(err))

    def multi(self, fn, args):
        """Every call of args, sent as messages of up to MAX_MULTI at once; waits for all."""
        out = [None] * len(args)
        left = [0]
        finished = threading.Event()
        mu = threading.Lock()

        def chunk_done(start):
            def done(results):
                out[start:start + len(results)] = results
                with mu:
                    left[0] -= 1
                    if left[0] == 0:
                        finished.set()
            return done

        starts = list(range(0, len(args), MAX_MULTI))
        left[0] = len(starts)
        for s in starts:
            try:
                self.multi_async(fn, args[s:s + MAX_MULTI], chunk_done(s))
            except ClientError as e:
                chunk_done(s)([e.result] * len(args[s:s + MAX_MULTI]))
        # the library answers every call by its timeout; the margin covers a slow close
        finished.wait(self.timeout_ms / 1000.0 + 30)
        return [r if r is not None else self._lib.error(CB_ETIMEOUT, "no answer in time") for r in out]

    def close(self):
        """Cancels what is outstanding (each callback fires with CLOSED first) and frees it."""
        h, self._h = self._h, None
        if h:
            self._lib.lib.cb_client_close(h)


class ClientError(Exception):
    def __init__(self, result):
        super().__init__("%s: %s" % (result.code, result.message))
        self.result = result
