"""_native: libcellbatch loaded through ctypes — cellbatch.h's structs, enums and prototypes.

The one place that mirrors the C header (docs/abi.md says what may change under it);
tests/python/test_abi.py compares every layout and enum value here with the compiler's.
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Dict, List, Optional, Tuple

#: the oldest libcellbatch this binding works with (CELLBATCH_VERSION_HEX) and its SONAME
MIN_VERSION = (0, 2, 0)
SOVERSION = 1
SONAME = "libcellbatch.so.%d" % SOVERSION
MAX_MULTI = 10000  # cb_multi_async's limit

#: cb_err as cbwire.h spells it: C name -> value
CB_ERR: Dict[str, int] = {
    "CB_OK": 0, "CB_EBAD_REQUEST": 1, "CB_EUNSUPPORTED_VERSION": 2, "CB_EUNKNOWN_FN": 3,
    "CB_ENOT_FOUND": 4, "CB_EUPSTREAM_ERROR": 5, "CB_EUPSTREAM_AUTH": 6,
    "CB_EQUOTA_EXCEEDED": 7, "CB_ETIMEOUT": 8, "CB_EBUSY": 9, "CB_ESHUTTING_DOWN": 10,
    "CB_EINTERNAL": 11, "CB_EUNAUTHORIZED": 12,
    "CB_ENOMEM": 64, "CB_EINVAL": 65, "CB_EUNREACHABLE": 66, "CB_EPROTO": 67, "CB_ECLOSED": 68,
    "CB_EIO": 69,
}
#: cb_fn: C name -> value
CB_FN: Dict[str, int] = {"CB_FN_GEOCODE": 0, "CB_FN_REVERSE": 1, "CB_FN_COUNT": 2}


class Call(ctypes.Structure):
    """cb_call."""
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


class Result(ctypes.Structure):
    """cb_result."""
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


class ClientOptions(ctypes.Structure):
    """cb_client_options."""
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("timeout_ms", ctypes.c_uint),
        ("retries", ctypes.c_uint),
        ("token", ctypes.c_char_p),
        # left NULL: libcellbatch reads $CELLBATCH_TLS_CA, _CERT and _KEY for tls+tcp:// and wss://
        ("tls_ca", ctypes.c_char_p),
        ("tls_cert", ctypes.c_char_p),
        ("tls_key", ctypes.c_char_p),
    ]


DONE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Result))
MULTI_DONE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Result), ctypes.c_size_t)

_P = ctypes.c_void_p
_PROTOTYPES = {
    "cb_client_open": (ctypes.c_int, [ctypes.POINTER(_P), ctypes.c_char_p,
                                      ctypes.POINTER(ClientOptions)]),
    "cb_client_close": (None, [_P]),
    "cb_call_async": (ctypes.c_int, [_P, ctypes.POINTER(Call), DONE, _P]),
    "cb_multi_async": (ctypes.c_int, [_P, ctypes.POINTER(Call), ctypes.c_size_t, MULTI_DONE,
                                      _P]),
    "cb_call_sync": (ctypes.c_int, [_P, ctypes.POINTER(Call), ctypes.POINTER(Result)]),
    "cb_result_free": (None, [ctypes.POINTER(Result)]),
    "cb_ping": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "cb_stats": (ctypes.c_int, [_P, ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t)]),
    "cb_free": (None, [_P]),
    "cb_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "cb_err_name": (ctypes.c_char_p, [ctypes.c_int]),
    "cb_version": (ctypes.c_char_p, []),
    "cb_version_hex": (ctypes.c_uint, []),
}


class LibraryError(ImportError):
    """libcellbatch could not be found or loaded, or is too old for this package."""


def candidates() -> List[str]:
    """Where libcellbatch is looked for, in order: $CELLBATCH_LIB; the path CMake wrote into
    _config.py (the build tree, or the install prefix relative to this package); a copy beside
    the package (the Calc add-in ships one); a build tree of the source checkout; the loader."""
    here = os.path.dirname(os.path.abspath(__file__))
    found: List[str] = []
    explicit = os.environ.get("CELLBATCH_LIB")
    if explicit:
        return [explicit]  # named explicitly: nothing else may stand in for it
    try:
        from . import _config  # type: ignore[attr-defined]
        lib = getattr(_config, "LIBRARY", None)
        if lib:
            found.append(lib if os.path.isabs(lib) else os.path.normpath(os.path.join(here, lib)))
    except ImportError:
        pass
    found.append(os.path.join(here, SONAME))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    found.extend(sorted(glob.glob(os.path.join(repo, "build*", "client", SONAME))))
    found.append(SONAME)
    return found


def _declare(lib: ctypes.CDLL, path: str) -> ctypes.CDLL:
    try:
        hexv = lib.cb_version_hex
    except AttributeError:
        raise LibraryError("%s is older than libcellbatch %d.%d.%d (no cb_version_hex); "
                           "cellbatch for Python needs %d.%d.%d or newer"
                           % ((path,) + MIN_VERSION + MIN_VERSION)) from None
    hexv.restype = ctypes.c_uint
    v = hexv()
    have = (v >> 16, (v >> 8) & 0xFF, v & 0xFF)
    if have < MIN_VERSION:
        raise LibraryError("%s is libcellbatch %d.%d.%d; cellbatch for Python needs %d.%d.%d "
                           "or newer (set CELLBATCH_LIB to a newer one)"
                           % ((path,) + have + MIN_VERSION))
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def load(path: Optional[str] = None) -> Tuple[ctypes.CDLL, str]:
    """Loads and checks libcellbatch (the first of candidates() that loads, or path);
    returns it and the path it came from."""
    tried = []
    for p in [path] if path else candidates():
        if os.sep in p and not os.path.exists(p):
            tried.append("%s: no such file" % p)
            continue
        try:
            lib = ctypes.CDLL(p)
        except OSError as e:
            tried.append(str(e))
            continue
        return _declare(lib, p), p
    raise LibraryError("libcellbatch (%s) not found; set CELLBATCH_LIB to its path. Tried: %s"
                       % (SONAME, "; ".join(tried)))


lib, library_path = load()
#: the loaded library's version, e.g. "0.2.0"
library_version: str = lib.cb_version().decode()
