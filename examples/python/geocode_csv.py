#!/usr/bin/python3
"""geocode_csv.py: geocodes a CSV column through cellbatchd, printing progress; writes lat, lon,
formatted and status columns.

    CELLBATCH_URL=ipc:///run/user/1000/cellbatch.sock ./geocode_csv.py in.csv out.csv [COLUMN]

10,000 rows leave as 10 multi messages of 1,000; cellbatchd batches, dedups and caches them.
"""

import csv
import sys

import cellbatch


def main() -> int:
    src, dst = sys.argv[1], sys.argv[2]
    column = sys.argv[3] if len(sys.argv) > 3 else "address"
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    def progress(done: int, total: int) -> None:
        print("\r%d/%d" % (done, total), end="", file=sys.stderr, flush=True)

    with cellbatch.Client() as client:  # $CELLBATCH_URL, else the default socket
        answers = client.geocode_many([r[column] for r in rows], progress=progress)
    print(file=sys.stderr)
    failed = 0
    with open(dst, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(rows[0]) + ["lat", "lon", "formatted", "status"] if rows else [])
        w.writeheader()
        for row, a in zip(rows, answers):
            if isinstance(a, cellbatch.Location):
                row.update(lat=a.latitude, lon=a.longitude, formatted=a.address, status="OK")
            else:  # None (not found) or a cellbatch.Error instance, never raised here
                failed += 1
                row.update(lat="", lon="", formatted="",
                           status="NOT_FOUND" if a is None else a.name)
            w.writerow(row)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
