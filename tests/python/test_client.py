"""test_client: cellbatch.Client against a real cellbatchd and mock."""

from __future__ import annotations

import threading

import pytest

import cellbatch
from conftest import gazetteer


def test_known_unknown_and_too_long(servers, client) -> None:
    text, lat, lon = gazetteer()[0]
    loc = client.geocode(text)
    assert isinstance(loc, cellbatch.Location)
    assert (loc.latitude, loc.longitude) == (lat, lon)
    la, lo = loc  # unpacks as (lat, lon)
    assert (la, lo) == (lat, lon)
    assert loc.address == servers.expected(text)[2]
    assert loc.result_type == "amenity" and loc.confidence == 1.0
    assert loc.raw["formatted"] == loc.address and loc.batch_size == 1
    assert client.geocode("1 Nowhere Lane, Atlantis") is None
    with pytest.raises(cellbatch.BadRequest) as e:
        client.geocode("x" * 1100)
    assert e.value.code == cellbatch.ErrorCode.BAD_REQUEST and e.value.name == "BAD_REQUEST"
    assert isinstance(e.value, cellbatch.Error) and e.value.message


def test_reverse_ping_stats(servers, client) -> None:
    text, lat, lon = gazetteer()[1]
    loc = client.reverse(lat, lon)
    assert loc is not None and loc.address == text
    assert client.reverse(-89.9, 0.0) is None
    assert client.ping() == cellbatch.__version__
    stats = client.stats()
    assert isinstance(stats, dict) and stats["version"] == cellbatch.__version__


def test_geocode_many_10000_with_one_bad(servers, client) -> None:
    texts = ["%d Batch Street, Manytown" % i for i in range(10000)]
    texts[4321] = "y" * 1100
    seen = []
    before = servers.submits()
    out = client.geocode_many(texts, progress=lambda done, total: seen.append((done, total)))
    assert len(out) == 10000
    bad = [i for i, a in enumerate(out) if isinstance(a, cellbatch.Error)]
    assert bad == [4321] and isinstance(out[4321], cellbatch.BadRequest)
    assert sum(isinstance(a, cellbatch.Location) for a in out) == 9999
    assert servers.submits() - before == 10
    for i in (0, 999, 5000, 9999):  # in input order, each the mock's answer
        want = servers.expected(texts[i])
        assert (out[i].latitude, out[i].longitude, out[i].address) == want
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (10000, 10000)
    assert len(seen) == 10


def test_reverse_many(servers, client) -> None:
    places = gazetteer()[:3]
    out = client.reverse_many([(lat, lon) for _, lat, lon in places] + [(-89.9, 0.0)])
    assert [a.address for a in out[:3]] == [t for t, _, _ in places] and out[3] is None


def test_threads_share_a_client(servers, client) -> None:
    results = {}

    def work(t: int) -> None:
        for k in range(20):
            results[(t, k)] = client.geocode("%d-%d Thread Road, Sharing" % (t, k))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 160 and all(isinstance(v, cellbatch.Location) for v in results.values())


def test_unreachable_and_closed(servers, tmp_path) -> None:
    with pytest.raises(cellbatch.Unreachable):
        cellbatch.Client("ipc://%s/nothing.sock" % tmp_path)
    c = cellbatch.Client(servers.url)
    c.close()
    with pytest.raises(cellbatch.Error) as e:
        c.geocode("after close")
    assert e.value.name == "CLOSED"


def test_url_from_environment(servers, monkeypatch) -> None:
    monkeypatch.setenv("CELLBATCH_URL", servers.url)
    with cellbatch.Client() as c:
        assert c.url == servers.url and c.ping()


def test_unknown_code_is_plain_error() -> None:
    e = cellbatch.error_for(250, "from the future")
    assert type(e) is cellbatch.Error and e.code == 250 and e.name == "ERROR_250"
    assert isinstance(cellbatch.error_for(12), cellbatch.Unauthorized)


def test_close_under_waiting_threads(servers) -> None:
    from conftest import wait_for
    servers.mock_config(pending_ms=3000)  # the calls stay unanswered while we close
    c = cellbatch.Client(servers.url)
    got = []

    def work(i: int) -> None:
        try:
            got.append(c.geocode("%d Closing Street, Shutdown" % i))
        except cellbatch.Error as e:
            got.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    wait_for(lambda: servers.submits() >= 1, "the calls reached the upstream")
    c.close()
    for th in threads:
        th.join(10)
    assert not any(th.is_alive() for th in threads)
    assert [getattr(a, "name", a) for a in got] == ["CLOSED"] * 8
