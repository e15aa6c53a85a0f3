"""cellbatch_addin: the LibreOffice Calc add-in GEOCODE / GEOCODE_RANGE / REVERSE, over libcellbatch.

Calc calls a cell function on its main thread, one cell at a time, waiting for
each. GEOCODE and REVERSE therefore start a cb_call_async and return an
XVolatileResult at once; the cell shows #PENDING until the answer arrives,
and the whole sheet's calls meet in cellbatchd's batch window. Answers
arrive on libcellbatch threads, which only queue them: one notifier thread
calls the listeners, because a listener takes Calc's SolarMutex and a
library thread must never wait for it (cb_client_close waits for those
threads, and is called with the SolarMutex held).
"""

import os
import queue
import threading
import time

import uno
import unohelper
from com.sun.star.frame import XTerminateListener
from com.sun.star.lang import XLocalizable, XServiceInfo, XServiceName
from com.sun.star.sheet import XAddIn, XVolatileResult
from org.cellbatch import XCellBatch

import importlib

GEOCODE, REVERSE = "geocode", "reverse"

IMPLEMENTATION = "org.cellbatch.CalcAddIn.python"
SERVICE = "org.cellbatch.CalcAddIn"
PENDING = "#PENDING"
FIELDS = ("lat", "lon", "formatted")
# An answer that failed for a reason that may pass (TIMEOUT, UNREACHABLE, ...) is kept
# this long: Calc re-reads the cell right after we report it, and a recalculation after
# that should ask again. Results and NOT_FOUND are kept until Calc exits.
RETRY_AFTER_S = 5.0
MAX_LOOKUPS = 200000  # past this, finished lookups are forgotten (cellbatchd caches them)
REOPEN_AFTER_S = 1.0  # after a failed connect, cells answer UNREACHABLE without retrying for this long

_FUNCTIONS = {
    # programmatic name: (display name, description, ((argument, description), ...))
    "geocode": ("GEOCODE",
                "Location of an address, from cellbatchd. Asynchronous: the cell shows "
                "#PENDING until the answer arrives; errors show their code (NOT_FOUND, ...).",
                (("text", "The address"),
                 ("field", '"lat", "lon" (numbers) or "formatted"; omitted: "lat, lon" as text'))),
    "geocodeRange": ("GEOCODE_RANGE",
                     "Locations of a range of addresses, sent to cellbatchd as one message. "
                     "Array function: one row per address (cells of a row are joined by \", \"); "
                     "lat and lon columns, or the one field asked for.",
                     (("addresses", "The range of addresses"),
                      ("field", '"lat", "lon" or "formatted"; omitted: two columns, lat and lon'))),
    "reverse": ("REVERSE",
                "Formatted address at a location, from cellbatchd. Asynchronous like GEOCODE.",
                (("lat", "Latitude in degrees"), ("lon", "Longitude in degrees"))),
}
_BY_DISPLAY = {v[0]: k for k, v in _FUNCTIONS.items()}


def _field(field):
    """None for the default shape, else one of FIELDS; a bad field is Calc's own #VALUE!."""
    if field is None or field == "":
        return None
    if isinstance(field, str) and field.strip().lower() in FIELDS:
        return field.strip().lower()
    raise ValueError("field must be lat, lon or formatted")


def _value(res, field):
    """What a cell shows for res: a number, a text, or the error's code."""
    if not res.ok:
        return res.code
    if field == "lat":
        return res.lat
    if field == "lon":
        return res.lon
    if field == "formatted":
        return res.formatted
    return "%r, %r" % (res.lat, res.lon)


def _timeout_ms():
    """$CELLBATCH_TIMEOUT_MS, how long a cell waits for its answer (0: the library's 60 s)."""
    try:
        return max(0, int(os.environ.get("CELLBATCH_TIMEOUT_MS", "0")))
    except ValueError:
        return 0


def _text(v):
    """A spreadsheet value as address text: 10115.0 -> "10115"."""
    if v is None:
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v).strip()


class _Res:
    """What a cell needs of an answer: ok, code ("OK", "NOT_FOUND", an error's name), lat, lon,
    formatted."""

    __slots__ = ("ok", "code", "message", "lat", "lon", "formatted")

    def __init__(self, code, message="", lat=0.0, lon=0.0, formatted=""):
        self.ok, self.code, self.message = code == "OK", code, message
        self.lat, self.lon, self.formatted = lat, lon, formatted


def _res(answer):
    """A cellbatch answer (Location, None for not found, or an Error) as a _Res."""
    if answer is None:
        return _Res("NOT_FOUND", "no result for this input")
    if isinstance(answer, Exception):
        return _Res(getattr(answer, "name", "ERROR"), getattr(answer, "message", str(answer)))
    return _Res("OK", "", answer.latitude, answer.longitude, answer.address)


class _Failed(Exception):
    """A cell's call could not start; result is what the cell shows."""

    def __init__(self, result):
        super().__init__("%s: %s" % (result.code, result.message))
        self.result = result


class _Volatile(unohelper.Base, XVolatileResult):
    """A lookup's cell value while its call is in flight; Calc listens to it."""

    def __init__(self, field):
        self._mu = threading.Lock()
        self._listeners = []
        self.field = field
        self.value = PENDING

    def _event(self, value):
        ev = uno.createUnoStruct("com.sun.star.sheet.ResultEvent")
        ev.Source = self
        ev.Value = value
        return ev

    def addResultListener(self, listener):
        with self._mu:
            self._listeners.append(listener)
            value = self.value
        # Calc takes the current value from this first call (it holds the SolarMutex already)
        listener.modified(self._event(value))

    def removeResultListener(self, listener):
        with self._mu:
            self._listeners = [x for x in self._listeners if x != listener]

    def publish(self, value):
        """Notifier thread only: sets the final value and tells every listening cell."""
        with self._mu:
            self.value = value
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.modified(self._event(value))
            except Exception:
                pass  # a listener of a closed document


class _Lookup:
    """One call to cellbatchd, shared by every cell asking the same (function, argument, field)."""

    __slots__ = ("result", "finished_at", "volatile")

    def __init__(self, field):
        self.result = None
        self.finished_at = 0.0
        self.volatile = _Volatile(field)  # what the cells show while the call is in flight

    def expired(self, now):
        r = self.result
        return r is not None and not r.ok and r.code != "NOT_FOUND" and \
            now - self.finished_at > RETRY_AFTER_S


class _Engine:
    """Process-wide state: one client, the lookups, the notifier. Shared by every add-in instance."""

    def __init__(self):
        self._mu = threading.Lock()
        self._cellbatch = None  # the package, imported on first use (it loads libcellbatch)
        self._client = None
        self._failed_at = 0.0
        self._open_error = None
        self._lookups = {}
        self._queue = queue.Queue()
        self._closed = False
        self._notifier = None

    # -- the client ------------------------------------------------------------
    def client(self):
        """The open client, or raises ClientError (UNREACHABLE, ...). Called with _mu held."""
        if self._closed:
            raise _Failed(_Res("CLOSED", "LibreOffice is closing"))
        if self._client is not None:
            return self._client
        if self._cellbatch is None:
            try:
                self._cellbatch = importlib.import_module("cellbatch")
            except ImportError as e:  # libcellbatch not shipped in the .oxt, not installed, too old
                raise _Failed(_Res("NO_LIBCELLBATCH", str(e)))
        now = time.monotonic()
        if self._open_error is not None and now - self._failed_at < REOPEN_AFTER_S:
            raise self._open_error
        try:
            # CELLBATCH_TOKEN: for a server with --auth-token-file (else cells show UNAUTHORIZED)
            self._client = self._cellbatch.Client(os.environ.get("CELLBATCH_URL") or None,
                                                  (_timeout_ms() or 60000) / 1000.0,
                                                  os.environ.get("CELLBATCH_TOKEN"))
        except self._cellbatch.Error as e:
            self._open_error, self._failed_at = _Failed(_res(e)), now
            raise self._open_error
        self._open_error = None
        return self._client

    def close(self):
        with self._mu:
            self._closed = True
            c, self._client = self._client, None
        if c is not None:
            c.close()  # outstanding callbacks fire (CLOSED) and only queue
        self._queue.put(None)

    # -- async cells -----------------------------------------------------------
    def lookup(self, fn, arg, field):
        """The cell value for (fn, arg, field): final if known, else an XVolatileResult."""
        now = time.monotonic()
        start = False
        with self._mu:
            # one call per distinct cell: cellbatchd's dedup makes the fields of one
            # address one upstream item; same-looking cells share one call and one result
            key = (fn, arg, field)
            lk = self._lookups.get(key)
            if lk is not None and lk.expired(now):
                lk = None
            if lk is None:
                if len(self._lookups) >= MAX_LOOKUPS:
                    self._forget_finished()
                lk = self._lookups[key] = _Lookup(field)
                start = True
            if lk.result is not None:
                return _value(lk.result, field)
            if start:
                try:
                    client = self.client()
                    self._start_notifier()
                except _Failed as e:
                    self._finish(lk, e.result)
                    return _value(e.result, field)
        if start:
            try:
                # the answer arrives on a library thread, which only queues it
                done = lambda answer: self._queue.put((lk, _res(answer)))  # noqa: E731
                if fn == GEOCODE:
                    client.geocode_async(arg, done)
                else:
                    client.reverse_async(arg[0], arg[1], done)
            except self._cellbatch.Error as e:
                with self._mu:
                    self._finish(lk, _res(e))
                return _value(lk.result, field)
        return lk.volatile

    def _finish(self, lk, res):
        lk.result = res
        lk.finished_at = time.monotonic()

    def _forget_finished(self):
        self._lookups = {k: v for k, v in self._lookups.items() if v.result is None}

    def _start_notifier(self):
        if self._notifier is None:
            self._notifier = threading.Thread(target=self._notify_loop,
                                              name="cellbatch-notifier", daemon=True)
            self._notifier.start()

    def _notify_loop(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            lk, res = item
            with self._mu:
                self._finish(lk, res)
                closed = self._closed
            if not closed:
                # outside _mu: modified() recalculates cells, which call lookup() again
                lk.volatile.publish(_value(res, lk.volatile.field))

    # -- array cells -----------------------------------------------------------
    def multi(self, fn, args):
        """Results for every arg, as multi messages of up to 1,000; blocks (array functions do)."""
        with self._mu:
            try:
                client = self.client()
            except _Failed as e:
                return [e.result] * len(args)
        many = client.geocode_many if fn == GEOCODE else client.reverse_many
        return [_res(a) for a in many(args)]


_engine = _Engine()


class _OnExit(unohelper.Base, XTerminateListener):
    def queryTermination(self, event):
        pass

    def notifyTermination(self, event):
        _engine.close()

    def disposing(self, source):
        pass


_exit_hook_mu = threading.Lock()
_exit_hook = None


class CellBatchAddIn(unohelper.Base, XCellBatch, XAddIn, XServiceName, XServiceInfo, XLocalizable):
    def __init__(self, ctx):
        global _exit_hook
        self._locale = None
        with _exit_hook_mu:
            if _exit_hook is None:
                # close the client before LibreOffice unloads Python under its threads
                _exit_hook = _OnExit()
                try:
                    desktop = ctx.ServiceManager.createInstanceWithContext(
                        "com.sun.star.frame.Desktop", ctx)
                    desktop.addTerminateListener(_exit_hook)
                except Exception:
                    pass  # no desktop (a bare UNO process): the client closes with the process

    # -- the functions ---------------------------------------------------------
    def geocode(self, text, field):
        field = _field(field)
        text = _text(text)
        if not text:
            return ""
        return _engine.lookup(GEOCODE, text, field)

    def reverse(self, lat, lon):
        return _engine.lookup(REVERSE, (float(lat), float(lon)), "formatted")

    def geocodeRange(self, addresses, field):
        field = _field(field)
        texts = [", ".join(t for t in (_text(v) for v in row) if t) for row in addresses]
        asked = [t for t in texts if t]
        answers = iter(_engine.multi(GEOCODE, asked) if asked else [])
        width = 2 if field is None else 1
        rows = []
        for t in texts:
            if not t:
                rows.append(("",) * width)
                continue
            res = next(answers)
            if field is not None:
                rows.append((_value(res, field),))
            elif res.ok:
                rows.append((res.lat, res.lon))
            else:
                rows.append((res.code, ""))
        return tuple(rows)

    # -- XAddIn ----------------------------------------------------------------
    def getProgrammaticFuntionName(self, display):
        return _BY_DISPLAY.get(display, "")

    def getDisplayFunctionName(self, name):
        return _FUNCTIONS[name][0] if name in _FUNCTIONS else ""

    def getFunctionDescription(self, name):
        return _FUNCTIONS[name][1] if name in _FUNCTIONS else ""

    def getDisplayArgumentName(self, name, i):
        args = _FUNCTIONS[name][2] if name in _FUNCTIONS else ()
        return args[i][0] if 0 <= i < len(args) else ""

    def getArgumentDescription(self, name, i):
        args = _FUNCTIONS[name][2] if name in _FUNCTIONS else ()
        return args[i][1] if 0 <= i < len(args) else ""

    def getProgrammaticCategoryName(self, name):
        return "Add-In"

    def getDisplayCategoryName(self, name):
        return "Add-In"

    # -- XServiceName, XServiceInfo, XLocalizable --------------------------------
    def getServiceName(self):
        return SERVICE

    def getImplementationName(self):
        return IMPLEMENTATION

    def supportsService(self, name):
        return name in self.getSupportedServiceNames()

    def getSupportedServiceNames(self):
        return ("com.sun.star.sheet.AddIn", SERVICE)

    def setLocale(self, locale):
        self._locale = locale

    def getLocale(self):
        return self._locale if self._locale is not None else uno.createUnoStruct(
            "com.sun.star.lang.Locale")


g_ImplementationHelper = unohelper.ImplementationHelper()
g_ImplementationHelper.addImplementation(CellBatchAddIn, IMPLEMENTATION,
                                         ("com.sun.star.sheet.AddIn", SERVICE))
