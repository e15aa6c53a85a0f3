"""geopy: cellbatch.geopy.CellBatch, a geopy Geocoder backed by cellbatchd — swap it in for
Nominatim or Geoapify in one line and keep RateLimiter, DataFrame.apply and the rest.

    from cellbatch.geopy import CellBatch
    geolocator = CellBatch()                     # was: Nominatim(user_agent=...)
    location = geolocator.geocode("Tour Eiffel, Paris")

Calls made at once (a thread pool, RateLimiter with min_delay_seconds=0 in threads) meet in
cellbatchd's batch window; the server already paces the upstream for every process. With
``CellBatch(asynchronous=True)`` geocode() and reverse() return coroutines, for geopy's
AsyncRateLimiter and ``asyncio.gather`` (geopy's own async mode, without an HTTP adapter).
"""

from __future__ import annotations

from typing import Any, List, Optional, Union

from geopy.exc import (GeocoderAuthenticationFailure, GeocoderQueryError,
                       GeocoderQuotaExceeded, GeocoderRateLimited, GeocoderServiceError,
                       GeocoderTimedOut, GeocoderUnavailable)
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location as GeopyLocation
from geopy.point import Point

from . import aio, errors
from .client import Client
from .location import Location

__all__ = ["CellBatch"]

_EXC = [
    (errors.BadRequest, GeocoderQueryError), (errors.Timeout, GeocoderTimedOut),
    (errors.Busy, GeocoderRateLimited), (errors.QuotaExceeded, GeocoderQuotaExceeded),
    (errors.Unauthorized, GeocoderAuthenticationFailure),
    (errors.Unreachable, GeocoderUnavailable), (errors.ShuttingDown, GeocoderUnavailable),
]


def _geopy_error(e: errors.Error) -> Exception:
    for ours, theirs in _EXC:
        if isinstance(e, ours):
            return theirs(str(e))
    return GeocoderServiceError(str(e))


def _to_geopy(loc: Optional[Location], exactly_one: bool) -> Any:
    if loc is None:
        return None
    g = GeopyLocation(loc.address, (loc.latitude, loc.longitude), dict(loc.raw))
    return g if exactly_one else [g]


class CellBatch(Geocoder):
    """A geopy geocoder over cellbatchd. ``url``, ``timeout`` (seconds) and ``token`` are
    cellbatch.Client's; ``client`` shares an open cellbatch.Client instead. Thread-safe.
    ``asynchronous``: the methods return coroutines (on a cellbatch.aio.Client)."""

    def __init__(self, url: Optional[str] = None, *, timeout: float = 60.0,
                 token: Optional[str] = None, client: Optional[Client] = None,
                 user_agent: Optional[str] = None, asynchronous: bool = False) -> None:
        super().__init__(timeout=timeout, user_agent=user_agent)
        self._aio: Optional[aio.Client] = None
        if asynchronous:
            self._aio = aio.Client(url if client is None else client.url, timeout, token)
            self.client = client
        else:
            self.client = client if client is not None else Client(url, timeout=timeout,
                                                                   token=token)

    def geocode(self, query: str, *, exactly_one: bool = True, timeout: Any = DEFAULT_SENTINEL,
                language: Optional[str] = None, **opts: Any) -> Union[None, GeopyLocation,
                                                                   List[GeopyLocation]]:
        """A geopy Location for query, or None. ``language`` is geopy's name for ``lang``;
        other keywords are cellbatch.Client.geocode's (type, filter, bias, countrycodes)."""
        if language is not None:
            opts["lang"] = language
        if self._aio is not None:
            return self._async(self._aio.geocode(str(query), **opts), exactly_one)
        try:
            return _to_geopy(self.client.geocode(str(query), **opts), exactly_one)
        except errors.Error as e:
            raise _geopy_error(e) from e

    def reverse(self, query: Any, *, exactly_one: bool = True, timeout: Any = DEFAULT_SENTINEL,
                language: Optional[str] = None, **opts: Any) -> Union[None, GeopyLocation,
                                                                   List[GeopyLocation]]:
        """The address at query ("lat, lon", (lat, lon) or a geopy Point)."""
        p = Point(query)
        if language is not None:
            opts["lang"] = language
        if self._aio is not None:
            return self._async(self._aio.reverse(p.latitude, p.longitude, **opts), exactly_one)
        try:
            return _to_geopy(self.client.reverse(p.latitude, p.longitude, **opts), exactly_one)
        except errors.Error as e:
            raise _geopy_error(e) from e

    @staticmethod
    async def _async(call: Any, exactly_one: bool) -> Any:
        try:
            return _to_geopy(await call, exactly_one)
        except errors.Error as e:
            raise _geopy_error(e) from e
