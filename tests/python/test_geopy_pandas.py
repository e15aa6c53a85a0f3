"""test_geopy_pandas: cellbatch.geopy.CellBatch under geopy's RateLimiter, and
cellbatch.pandas.geocode_column, over DataFrames."""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from geopy.exc import GeocoderQueryError
from geopy.extra.rate_limiter import AsyncRateLimiter, RateLimiter
from geopy.location import Location as GeopyLocation

import cellbatch
from cellbatch.geopy import CellBatch
from cellbatch.pandas import geocode_column
from conftest import gazetteer


def test_geopy_rate_limiter_over_100_rows_one_submit(servers) -> None:
    df = pd.DataFrame({"address": ["%d Geopy Gardens, Swapton" % i for i in range(100)]})
    geolocator = CellBatch(servers.url)
    geocode = RateLimiter(geolocator.geocode, min_delay_seconds=0)
    before = servers.submits()
    # RateLimiter is thread-safe; rows asked at once meet in cellbatchd's batch window
    with ThreadPoolExecutor(100) as pool:
        df["location"] = list(pool.map(geocode, df["address"]))
    assert servers.submits() - before == 1
    for text, loc in zip(df["address"], df["location"]):
        assert isinstance(loc, GeopyLocation)
        assert (loc.latitude, loc.longitude, loc.address) == servers.expected(text)
        assert loc.raw["batch_size"] == 100


def test_geopy_async_rate_limiter_over_100_rows_one_submit(servers) -> None:
    df = pd.DataFrame({"address": ["%d Async Geopy Row, Swapton" % i for i in range(100)]})
    geolocator = CellBatch(servers.url, asynchronous=True)
    geocode = AsyncRateLimiter(geolocator.geocode, min_delay_seconds=0)

    async def main():
        return await asyncio.gather(*(geocode(a) for a in df["address"]))

    before = servers.submits()
    df["location"] = asyncio.run(main())
    assert servers.submits() - before == 1
    assert all(isinstance(loc, GeopyLocation) for loc in df["location"])
    loc = df["location"][42]
    assert (loc.latitude, loc.longitude, loc.address) == servers.expected(df["address"][42])


def test_geopy_single_reverse_and_errors(servers) -> None:
    g = CellBatch(servers.url)
    text, lat, lon = gazetteer()[2]
    loc = g.geocode(text)
    assert loc.point.latitude == lat and loc.address == text
    assert g.geocode(text, exactly_one=False)[0].address == text
    assert g.geocode("1 Nowhere Lane, Atlantis") is None
    assert g.reverse("%f, %f" % (lat, lon)).address == text
    with pytest.raises(GeocoderQueryError):
        g.geocode("w" * 1100)


def test_pandas_geocode_column(servers) -> None:
    texts = ["%d Panda Place, Bambooville" % i for i in range(2500)]
    texts[7] = "1 Nowhere Lane, Atlantis"
    texts[8] = "v" * 1100
    texts[9] = None
    df = pd.DataFrame({"addr": texts})
    before = servers.submits()
    with cellbatch.Client(servers.url) as c:
        out = geocode_column(df, "addr", client=c)
    assert out is df and servers.submits() - before == 3
    assert list(df["status"][6:10]) == ["OK", "NOT_FOUND", "BAD_REQUEST", "EMPTY"]
    assert math.isnan(df["lat"][7]) and df["formatted"][9] is None
    assert (df["lat"][0], df["lon"][0], df["formatted"][0]) == servers.expected(texts[0])
    assert (df["status"] == "OK").sum() == 2497
