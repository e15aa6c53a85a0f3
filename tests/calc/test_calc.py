#!/usr/bin/python3
"""test_calc.py: the Calc add-in in headless LibreOffice against real cellbatchd and geoapify-mock processes.

    /usr/bin/python3 test_calc.py --mock BIN --server BIN --gazetteer CSV --oxt OXT --examples DIR

Expected values come from the mock's single-lookup endpoint (GET /v1/geocode/search),
which does not count as an upstream submit; submits are read from /mock/stats.
"""

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

ARGS = None
SOFFICE_TIMEOUT = 180  # seconds for one LibreOffice run; a hang fails the test, never CI
CSV_EXPORT = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false"
NOWHERE = "1 Nowhere Lane, Atlantis"  # the mock answers it with a query-only item


def gazetteer():
    with open(ARGS.gazetteer, newline="", encoding="utf-8") as f:
        return [row["address"] for row in csv.DictReader(f)]


def write_addresses(path, addresses):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["address"])
        for a in addresses:
            w.writerow([a])


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


class Env:
    """A temp dir with a geoapify-mock and a cellbatchd on ipc://, stopped at the end."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cellbatch-calc-")
        self.profile = os.path.join(self.dir, "profile")
        self.url = "ipc://%s/cellbatch.sock" % self.dir
        self.mock = self.server = None
        self.logs = []
        port_file = os.path.join(self.dir, "port")
        self.mock = subprocess.Popen(
            [ARGS.mock, "--port", "0", "--port-file", port_file, "--pending", "50ms",
             "--gazetteer", ARGS.gazetteer], stderr=self.log("mock.log"))
        self.wait_for(lambda: os.path.exists(port_file) and os.path.getsize(port_file) > 0,
                      "the mock did not start")
        with open(port_file) as f:
            self.mock_url = "http://127.0.0.1:%s" % f.read().strip()
        self.start_server()

    def log(self, name):
        f = open(self.path(name), "a")
        self.logs.append(f)
        return f

    def path(self, name):
        return os.path.join(self.dir, name)

    def wait_for(self, cond, what, timeout=10):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            time.sleep(0.05)

    def start_server(self, *extra):
        env = dict(os.environ, GEOAPIFY_API_KEY="test-key")
        sock = os.path.join(self.dir, "cellbatch.sock")
        # Calc issues a sheet's calls within tens of milliseconds; the window a
        # spreadsheet host should run with (README) keeps a slow CI machine in one batch.
        self.server = subprocess.Popen(
            [ARGS.server, "--listen", self.url, "--upstream", self.mock_url,
             "--cache-db", self.path("cache.db"), "--batch-wait", "2s", "--batch-idle", "200ms",
             *extra],
            env=env, stderr=self.log("server.log"))
        self.wait_for(lambda: os.path.exists(sock), "cellbatchd did not start")

    def stop_server(self):
        self.server.send_signal(signal.SIGTERM)
        rc = self.server.wait(30)
        self.server = None
        return rc

    def close(self):
        for p in (self.server, self.mock):
            if p is not None:
                p.terminate()
                p.wait(30)
        for f in self.logs:
            f.close()
        if os.environ.get("CB_KEEP_TMP"):
            print("kept", self.dir, file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def server_stats(self):
        p = subprocess.run([ARGS.cli, "--url", self.url, "stats", "--json"], check=True,
                           capture_output=True, text=True, timeout=30)
        return json.loads(p.stdout)

    def stats(self):
        with urllib.request.urlopen(self.mock_url + "/mock/stats", timeout=10) as r:
            return json.load(r)

    def expected(self, text):
        """The mock's own answer for text: (lat, lon, formatted), or None when not found."""
        q = urllib.parse.urlencode({"text": text, "format": "json", "apiKey": "test-key"})
        with urllib.request.urlopen(self.mock_url + "/v1/geocode/search?" + q, timeout=10) as r:
            results = json.load(r)["results"]
        if not results:
            return None
        return results[0]["lat"], results[0]["lon"], results[0]["formatted"]

    def sheet(self, name, addresses, *make_args):
        """Writes NAME.fods from make_sheet.py over addresses; returns its path."""
        src = self.path(name + ".csv")
        write_addresses(src, addresses)
        out = self.path(name + ".fods")
        subprocess.run([sys.executable, os.path.join(ARGS.examples, "make_sheet.py"), src, out]
                       + list(make_args), check=True)
        return out

    def recalc(self, sheet, extra_env=None, install=False):
        """examples/calc/recalc.py on sheet; returns (header, rows, seconds)."""
        out = self.path(os.path.basename(sheet)[:-len(".fods")] + ".out.csv")
        cmd = [sys.executable, os.path.join(ARGS.examples, "recalc.py"), "--profile",
               self.profile, "--timeout", "120", sheet, out]
        if install:
            cmd[2:2] = ["--oxt", ARGS.oxt]
        env = dict(os.environ, CELLBATCH_URL=self.url, HOME=self.dir, **(extra_env or {}))
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, timeout=SOFFICE_TIMEOUT, capture_output=True, text=True)
        took = time.monotonic() - t0
        if p.returncode != 0:
            raise AssertionError("recalc.py exit %d:\n%s" % (p.returncode, p.stderr))
        return read_csv(out) + (took,)

    def convert(self, sheet):
        """soffice --headless --convert-to csv, as a user would; returns (header, rows, seconds)."""
        outdir = self.path("converted")
        cmd = ["soffice", "-env:UserInstallation=file://" + self.profile, "--headless",
               "--convert-to", CSV_EXPORT, "--outdir", outdir, sheet]
        env = dict(os.environ, CELLBATCH_URL=self.url, HOME=self.dir)
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, timeout=SOFFICE_TIMEOUT, capture_output=True, text=True)
        took = time.monotonic() - t0
        if p.returncode != 0:
            raise AssertionError("soffice exit %d:\n%s" % (p.returncode, p.stderr))
        name = os.path.basename(sheet)[:-len(".fods")] + ".csv"
        return read_csv(os.path.join(outdir, name)) + (took,)


def normal(text):
    return " ".join(text.lower().split())


def near(a, b):
    return abs(float(a) - float(b)) < 1e-9


class CalcAddIn(unittest.TestCase):
    """Run in name order: each step builds on the state the previous one left."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        # the install, and the sample sheet as a user opens it
        header, rows, took = cls.env.recalc(os.path.join(ARGS.examples, "sheet.fods"),
                                            install=True)
        cls.example = (header, rows)
        print("install + examples/calc/sheet.fods: %.1f s" % took, file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def check_located(self, rows, col_lat, col_lon):
        for row in rows:
            exp = self.env.expected(row[0])
            self.assertIsNotNone(exp, row[0])
            self.assertTrue(near(row[col_lat], exp[0]) and near(row[col_lon], exp[1]),
                            "%s: cell %s, %s; the mock says %s, %s" %
                            (row[0], row[col_lat], row[col_lon], exp[0], exp[1]))

    def test_0_example_sheet(self):
        header, rows = self.example
        self.assertEqual(header[:4], ["address", "location", "lat", "lon"])
        # cellbatchd sends one text per normal form ("221b baker st,   LONDON" rides with
        # "221B Baker St"), so a row may carry the answer for another spelling of its address
        answers = {}
        for row in rows:
            answers.setdefault(normal(row[0]), []).append(self.env.expected(row[0]))
        r_lat, r_lon = header.index("range lat"), header.index("range lon")
        for row in rows:
            self.assertNotIn("#PENDING", row, row)
            candidates = answers[normal(row[0])]
            if candidates == [None] * len(candidates):
                self.assertEqual(row[1:4], ["NOT_FOUND"] * 3, row)
                continue
            self.assertIn(row[1], ["%r, %r" % (e[0], e[1]) for e in candidates if e], row)
            exp = next(e for e in candidates if e and row[1] == "%r, %r" % (e[0], e[1]))
            self.assertTrue(near(row[2], exp[0]) and near(row[3], exp[1]), row)
            self.assertEqual(row[header.index("formatted")], exp[2])
            place = row[header.index("place")]
            self.assertNotRegex(place, r"^([A-Z_]+|#PENDING|)$", "REVERSE of %s" % row[0])
            self.assertTrue(near(row[r_lat], exp[0]) and near(row[r_lon], exp[1]), row)

    def test_1_sheet_of_200(self):
        # unseen addresses: the sample sheet already put the gazetteer's in the cache
        addrs = ["%d Calc Street, Testville %d" % (i, i * 7) for i in range(1, 201)]
        self.assertEqual(len(addrs), 200)
        self.__class__.sheet200 = self.env.sheet("s200", addrs, "--fields", "lat,lon")
        before, sbefore = self.env.stats(), self.env.server_stats()
        header, rows, took = self.env.recalc(self.sheet200)
        after, safter = self.env.stats(), self.env.server_stats()
        print("200 addresses x (lat, lon): %.1f s" % took, file=sys.stderr)
        # every cell's own call reached the server; its dedup made 200 items of them
        self.assertEqual(safter["calls_received"] - sbefore["calls_received"], 400)
        self.assertEqual(safter["dedup_hits"] - sbefore["dedup_hits"], 200)
        self.assertEqual(header, ["address", "lat", "lon"])
        self.assertEqual([r[0] for r in rows], addrs)
        self.check_located(rows, 1, 2)
        self.assertEqual(after["submits"] - before["submits"], 1)
        self.assertEqual(after["submit_sizes"][-1], 200)
        self.__class__.rows200 = rows

    def test_2_recalculated_again(self):
        before = self.env.stats()
        header, rows, took = self.env.recalc(self.sheet200)
        after = self.env.stats()
        print("the same sheet again: %.1f s" % took, file=sys.stderr)
        self.assertEqual(rows, self.rows200)
        self.assertEqual(after["submits"] - before["submits"], 0)
        self.assertEqual(after["requests"] - before["requests"], 0)

    def test_3_range_of_500_with_convert_to(self):
        addrs = ["%d Range Road, Arrayville" % i for i in range(1, 501)]
        sheet = self.env.sheet("r500", addrs, "--fields", "", "--range")
        before = self.env.stats()
        header, rows, took = self.env.convert(sheet)
        after = self.env.stats()
        print("GEOCODE_RANGE of 500, --convert-to csv: %.1f s" % took, file=sys.stderr)
        self.assertEqual(header, ["address", "range lat", "range lon"])
        self.assertEqual(len(rows), 500)
        self.check_located(rows, 1, 2)
        self.assertEqual(after["submits"] - before["submits"], 1)
        self.assertEqual(after["submit_sizes"][-1], 500)

    def test_4_not_found(self):
        addrs = [NOWHERE, gazetteer()[0]]
        sheet = self.env.sheet("nf", addrs, "--fields", "lat,lon,location,formatted", "--range")
        header, rows, _ = self.env.recalc(sheet)
        self.assertEqual(rows[0][1:], ["NOT_FOUND"] * 5 + [""], rows[0])
        exp = self.env.expected(addrs[1])
        self.assertTrue(near(rows[1][1], exp[0]) and near(rows[1][2], exp[1]), rows[1])
        self.assertEqual(rows[1][4], exp[2])

    def test_5_timeout(self):
        # jobs that never finish: each cell gets TIMEOUT at its deadline, nothing hangs
        req = urllib.request.Request(self.env.mock_url + "/mock/config",
                                     data=json.dumps({"pending_ms": 3600000}).encode(),
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).close()
        try:
            sheet = self.env.sheet("slow", ["3 Slow Lane, Latency"], "--fields", "lat,location")
            header, rows, took = self.env.recalc(sheet, {"CELLBATCH_TIMEOUT_MS": "1500"})
        finally:
            req = urllib.request.Request(self.env.mock_url + "/mock/config",
                                         data=json.dumps({"pending_ms": 50}).encode(),
                                         method="POST")
            urllib.request.urlopen(req, timeout=10).close()
        self.assertEqual(rows[0][1:], ["TIMEOUT", "TIMEOUT"])
        print("TIMEOUT after a 1.5 s deadline: %.1f s in all" % took, file=sys.stderr)

    def test_5b_no_library(self):
        # $CELLBATCH_LIB names the library; one that cannot load is a clear text, not #VALUE!
        sheet = self.env.sheet("nolib", ["8 Library Lane"], "--fields", "lat", "--range")
        header, rows, _ = self.env.recalc(sheet, {"CELLBATCH_LIB": "/nonexistent/libcellbatch.so.0"})
        self.assertEqual(rows[0][1:], ["NO_LIBCELLBATCH"] * 2 + [""], rows[0])

    def test_6_stopped_server(self):
        self.assertEqual(self.env.stop_server(), 0)
        addrs = ["7 Closed Street, Offline", gazetteer()[1]]
        sheet = self.env.sheet("down", addrs, "--fields", "lat,location", "--range")
        header, rows, _ = self.env.recalc(sheet)
        for row in rows:
            self.assertEqual(row[1:], ["UNREACHABLE"] * 3 + [""], row)
        header, rows, _ = self.env.convert(sheet)
        for row in rows:
            self.assertEqual(row[3:], ["UNREACHABLE", ""], row)
        # and back: a server started again is found by the next recalculation
        self.env.start_server()
        header, rows, _ = self.env.recalc(sheet)
        for row in rows:
            exp = self.env.expected(row[0])
            self.assertTrue(near(row[1], exp[0]) and near(row[3], exp[0]) and
                            near(row[4], exp[1]), row)

    def test_7_token(self):
        # a server with --auth-token-file: UNAUTHORIZED cells until LibreOffice has CELLBATCH_TOKEN
        # (the address was answered before: the server's cache must ask for the token too)
        tokens = self.env.path("tokens")
        with open(tokens, "w") as f:
            f.write("# the add-in's token\nt0k-calc-42\n")
        os.chmod(tokens, 0o600)
        self.assertEqual(self.env.stop_server(), 0)
        self.env.start_server("--auth-token-file", tokens)
        addr = gazetteer()[1]
        sheet = self.env.sheet("token", [addr], "--fields", "lat", "--range")
        header, rows, _ = self.env.recalc(sheet)
        self.assertEqual(rows[0][1:], ["UNAUTHORIZED"] * 2 + [""], rows[0])
        header, rows, _ = self.env.recalc(sheet, {"CELLBATCH_TOKEN": "t0k-calc-42"})
        exp = self.env.expected(addr)
        self.assertTrue(near(rows[0][1], exp[0]) and near(rows[0][2], exp[0]), rows[0])


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    for a in ("--mock", "--server", "--gazetteer", "--oxt", "--examples", "--cli"):
        ap.add_argument(a, required=True)
    ARGS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
