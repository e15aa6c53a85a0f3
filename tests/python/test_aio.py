"""test_aio: cellbatch.aio.Client — thousands of concurrent awaits in one event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import cellbatch
import cellbatch.aio
from cellbatch import _core
from conftest import wait_for


def test_1000_concurrent_geocodes_one_submit(servers) -> None:
    texts = ["%d Concurrency Avenue, Asyncville" % i for i in range(1000)]

    async def main():
        async with cellbatch.aio.Client(servers.url) as c:
            return await asyncio.gather(*(c.geocode(t) for t in texts))

    before = servers.submits()
    out = asyncio.run(main())
    assert servers.submits() - before == 1
    with ThreadPoolExecutor(8) as pool:
        want = list(pool.map(servers.expected, texts))
    for t, loc, w in zip(texts, out, want):
        assert isinstance(loc, cellbatch.Location), t
        assert (loc.latitude, loc.longitude, loc.address) == w, t
        assert loc.batch_size == 1000


def test_errors_and_none(servers) -> None:
    async def main():
        async with cellbatch.aio.Client(servers.url) as c:
            assert await c.geocode("1 Nowhere Lane, Atlantis") is None
            try:
                await c.geocode("z" * 1100)
            except cellbatch.BadRequest as e:
                bad = e
            many = await c.geocode_many(["1 Nowhere Lane, Atlantis", "q" * 1100, "2 Real Road"])
            rev = await c.reverse(-89.9, 0.0)
            return bad, many, rev, await c.ping(), await c.stats()

    bad, many, rev, version, stats = asyncio.run(main())
    assert bad.code == cellbatch.ErrorCode.BAD_REQUEST
    assert many[0] is None and isinstance(many[1], cellbatch.BadRequest)
    assert isinstance(many[2], cellbatch.Location) and rev is None
    assert version == cellbatch.__version__ and stats["version"] == version


def test_500_pending_survive_a_server_restart(servers) -> None:
    texts = ["%d Restart Boulevard, Phoenix" % i for i in range(500)]
    strays = _core.stray_callbacks
    servers.mock_config(pending_ms=1500)  # the batch stays in the upstream while we kill

    async def main():
        async with cellbatch.aio.Client(servers.url) as c:
            tasks = [asyncio.ensure_future(c.geocode(t)) for t in texts]
            loop = asyncio.get_running_loop()
            # the 500 are in flight once their batch reached the upstream
            await loop.run_in_executor(None, wait_for, lambda: servers.submits() >= 1,
                                       "the batch reached the mock")
            servers.kill_server()
            servers.mock_config(pending_ms=50)
            servers.start_server()
            return await asyncio.gather(*tasks, return_exceptions=True)

    out = asyncio.run(main())
    assert len(out) == 500
    wrong = [(t, a) for t, a in zip(texts, out) if not isinstance(a, cellbatch.Location)]
    assert not wrong, wrong[:3]
    assert _core.stray_callbacks == strays  # no callback fired twice
    for i in (0, 250, 499):
        assert (out[i].latitude, out[i].longitude, out[i].address) == servers.expected(texts[i])


def test_10000_concurrent_and_overhead(servers) -> None:
    texts = ["%d Ten Thousand Lane, Loadtown" % i for i in range(10000)]

    async def main():
        async with cellbatch.aio.Client(servers.url) as c:
            t0 = time.monotonic()
            out = await asyncio.gather(*(c.geocode(t) for t in texts))
            t1 = time.monotonic()
            again = await asyncio.gather(*(c.geocode(t) for t in texts))  # cache hits
            return out, t1 - t0, again, time.monotonic() - t1

    out, first, again, cached = asyncio.run(main())
    assert all(isinstance(a, cellbatch.Location) for a in out)
    assert all(a.cached for a in again)
    # per-call cost of the binding alone: building the call and starting it, no waiting
    c = _core.Call()
    n = 20000
    t0 = time.perf_counter()
    for i in range(n):
        _core.fill_call(c, _core.GEOCODE, "%d Overhead Street" % i, {})
    build_us = (time.perf_counter() - t0) / n * 1e6
    print("\n10,000 aio geocodes: %.2f s new (10 upstream batches), %.2f s from the cache "
          "(%.0f us per call); building a cb_call: %.1f us" %
          (first, cached, cached / 1e4 * 1e6, build_us), file=sys.stderr)
    if os.environ.get("CB_TIMINGS"):
        with open(os.environ["CB_TIMINGS"], "a") as f:
            f.write("aio10000 %.3f cached %.3f build_us %.2f\n" % (first, cached, build_us))
