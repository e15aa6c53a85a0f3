"""errors: cellbatch.Error and its subclasses, one per kind of failure a caller handles."""

from __future__ import annotations

import enum
from typing import Dict, Type, Union

from ._native import CB_ERR, lib


def _wire_name(c_name: str) -> str:
    """CB_EBAD_REQUEST -> BAD_REQUEST; local codes get the names cells show (README)."""
    local = {"CB_ENOMEM": "NO_MEMORY", "CB_EINVAL": "INVALID_ARGUMENT",
             "CB_EUNREACHABLE": "UNREACHABLE", "CB_EPROTO": "PROTOCOL_ERROR",
             "CB_ECLOSED": "CLOSED", "CB_EIO": "IO_ERROR"}
    return local.get(c_name, c_name[len("CB_E"):] if c_name != "CB_OK" else "OK")


#: cb_err as a Python enum: ErrorCode.BAD_REQUEST == 1; .name is the wire spelling.
ErrorCode = enum.IntEnum("ErrorCode", {_wire_name(k): v for k, v in CB_ERR.items()})  # type: ignore[misc]


class Error(Exception):
    """A call that failed. ``code`` is an ErrorCode (a plain int for a code this package does
    not know), ``name`` its spelling ("BAD_REQUEST"), ``message`` the server's or library's text."""

    def __init__(self, code: Union[int, "ErrorCode"], message: str = "") -> None:
        try:
            code = ErrorCode(code)
            name = code.name
        except ValueError:
            name = "ERROR_%d" % code
        if not message:
            message = lib.cb_strerror(int(code)).decode("utf-8", "replace")
        super().__init__("%s: %s" % (name, message))
        self.code = code
        self.name = name
        self.message = message

    def __reduce__(self):  # picklable across processes (multiprocessing, pandas workers)
        return (error_for, (int(self.code), self.message))

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and other.code == self.code  # type: ignore[attr-defined]
                and other.message == self.message)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), int(self.code), self.message))


class BadRequest(Error):
    """The call itself is wrong (a text over 1,024 bytes, an unknown function or option)."""


class Timeout(Error):
    """No answer within the call's timeout."""


class Busy(Error):
    """The server refused the call for now (too many outstanding calls); try again later."""


class QuotaExceeded(Error):
    """The upstream's quota is exhausted."""


class UpstreamError(Error):
    """The upstream geocoder failed or refused the server's key."""


class Unreachable(Error):
    """The server could not be reached (or the connection was lost and not regained in time)."""


class Unauthorized(Error):
    """The server wants a token (--auth-token-file) and the call had none or a wrong one."""


class ShuttingDown(Error):
    """The server is draining and takes no new calls."""


_CLASSES: Dict[int, Type[Error]] = {
    ErrorCode.BAD_REQUEST: BadRequest, ErrorCode.UNKNOWN_FN: BadRequest,
    ErrorCode.UNSUPPORTED_VERSION: BadRequest, ErrorCode.INVALID_ARGUMENT: BadRequest,
    ErrorCode.TIMEOUT: Timeout, ErrorCode.BUSY: Busy, ErrorCode.QUOTA_EXCEEDED: QuotaExceeded,
    ErrorCode.UPSTREAM_ERROR: UpstreamError, ErrorCode.UPSTREAM_AUTH: UpstreamError,
    ErrorCode.UNREACHABLE: Unreachable, ErrorCode.UNAUTHORIZED: Unauthorized,
    ErrorCode.SHUTTING_DOWN: ShuttingDown,
}


def error_for(code: int, message: str = "") -> Error:
    """The Error instance for a cb_err code: its subclass, or Error for any other code."""
    return _CLASSES.get(code, Error)(code, message)
