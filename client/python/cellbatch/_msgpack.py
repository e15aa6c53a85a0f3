"""_msgpack: decodes the msgpack of cb_stats() (maps, arrays, strings, numbers) without a
dependency; python3-msgpack is used when installed."""

from __future__ import annotations

import struct
from typing import Any, Tuple


def unpack(data: bytes) -> Any:
    """The one msgpack object in data."""
    try:
        import msgpack  # type: ignore[import]
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except ImportError:
        value, _ = _read(data, 0)
        return value


_FIXED = {0xc0: None, 0xc2: False, 0xc3: True}
_NUM = {0xca: ">f", 0xcb: ">d", 0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q",
        0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}
_LEN = {0xd9: ">B", 0xda: ">H", 0xdb: ">I", 0xc4: ">B", 0xc5: ">H", 0xc6: ">I",
        0xdc: ">H", 0xdd: ">I", 0xde: ">H", 0xdf: ">I"}


def _read(b: bytes, i: int) -> Tuple[Any, int]:
    t = b[i]
    i += 1
    if t <= 0x7f:
        return t, i
    if t >= 0xe0:
        return t - 0x100, i
    if 0x80 <= t <= 0x8f:
        return _map(b, i, t & 0x0f)
    if 0x90 <= t <= 0x9f:
        return _array(b, i, t & 0x0f)
    if 0xa0 <= t <= 0xbf:
        n = t & 0x1f
        return b[i:i + n].decode("utf-8", "replace"), i + n
    if t in _FIXED:
        return _FIXED[t], i
    if t in _NUM:
        fmt = _NUM[t]
        return struct.unpack_from(fmt, b, i)[0], i + struct.calcsize(fmt)
    if t in _LEN:
        fmt = _LEN[t]
        n = struct.unpack_from(fmt, b, i)[0]
        i += struct.calcsize(fmt)
        if t in (0xd9, 0xda, 0xdb):
            return b[i:i + n].decode("utf-8", "replace"), i + n
        if t in (0xc4, 0xc5, 0xc6):
            return bytes(b[i:i + n]), i + n
        return _array(b, i, n) if t in (0xdc, 0xdd) else _map(b, i, n)
    raise ValueError("msgpack type 0x%02x not supported" % t)


def _array(b: bytes, i: int, n: int) -> Tuple[Any, int]:
    out = []
    for _ in range(n):
        v, i = _read(b, i)
        out.append(v)
    return out, i


def _map(b: bytes, i: int, n: int) -> Tuple[Any, int]:
    out = {}
    for _ in range(n):
        k, i = _read(b, i)
        v, i = _read(b, i)
        out[k] = v
    return out, i
