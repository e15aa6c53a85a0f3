#!/usr/bin/env python3
"""make_sheet.py: writes a LibreOffice .fods sheet whose cells call the cellbatch add-in on a column of addresses.

    make_sheet.py ADDRESSES.csv OUT.fods [--fields location,lat,lon] [--reverse] [--range]

Column A holds the addresses (the CSV's first column, or --column). Each of
--fields adds a column of =GEOCODE(A2; "field") cells ("location" omits the
field: "lat, lon" text); --reverse adds =REVERSE(lat; lon) of those columns;
--range adds a {=GEOCODE_RANGE(A2:An)} block (lat and lon, or --range-field).
In ODF files Calc stores add-in functions under the add-in's service name,
which is what this writes; typed into a cell they are plain GEOCODE(...).
"""

import argparse
import csv
import sys
from xml.sax.saxutils import escape, quoteattr

PREFIX = "ORG.CELLBATCH.CALCADDIN."  # the add-in's service name, as ODF spells it
FIELDS = ("location", "lat", "lon", "formatted")


def col(i):
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def text_cell(s):
    return ('<table:table-cell office:value-type="string"><text:p>%s</text:p></table:table-cell>'
            % escape(s))


def formula_cell(formula, rows=0, cols=0):
    span = ""
    if rows:
        span = (' table:number-matrix-columns-spanned="%d" table:number-matrix-rows-spanned="%d"'
                % (cols, rows))
    return '<table:table-cell%s table:formula=%s/>' % (span, quoteattr("of:=" + formula))


def geocode(ref, field):
    arg = "" if field == "location" else ';"%s"' % field
    return "%sGEOCODE([.%s]%s)" % (PREFIX, ref, arg)


def build(addresses, fields, reverse, with_range, range_field):
    n = len(addresses)
    header = ["address"] + list(fields)
    if reverse:
        header.append("place")
    if with_range:
        header += ["range " + range_field] if range_field else ["range lat", "range lon"]
    rows = [[text_cell(h) for h in header]]
    for i, a in enumerate(addresses):
        r = i + 2
        cells = [text_cell(a)]
        cells += [formula_cell(geocode("A%d" % r, f)) for f in fields]
        if reverse:
            lat = col(1 + fields.index("lat"))
            lon = col(1 + fields.index("lon"))
            cells.append(formula_cell("%sREVERSE([.%s%d];[.%s%d])" % (PREFIX, lat, r, lon, r)))
        if with_range and i == 0:
            arg = ';"%s"' % range_field if range_field else ""
            cells.append(formula_cell("%sGEOCODERANGE([.A2:.A%d]%s)" % (PREFIX, n + 1, arg),
                                      rows=n, cols=1 if range_field else 2))
        rows.append(cells)
    body = "\n".join("   <table:table-row>%s</table:table-row>" % "".join(c) for c in rows)
    return """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
 <office:body>
  <office:spreadsheet>
   <table:table table:name="Addresses">
%s
   </table:table>
  </office:spreadsheet>
 </office:body>
</office:document>
""" % body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("addresses", help="CSV with a header line; '-' for standard input")
    ap.add_argument("out", help="the .fods to write")
    ap.add_argument("--column", help="the CSV column holding addresses (default: the first)")
    ap.add_argument("--fields", default="lat,lon",
                    help="GEOCODE columns, from %s (default lat,lon; '' for none)" % ",".join(FIELDS))
    ap.add_argument("--reverse", action="store_true", help="add REVERSE(lat; lon) of each row")
    ap.add_argument("--range", action="store_true", help="add a GEOCODE_RANGE block")
    ap.add_argument("--range-field", choices=FIELDS[1:], help="the one field of the block")
    a = ap.parse_args()

    fields = [f for f in a.fields.split(",") if f]
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        ap.error("unknown field %s" % bad[0])
    if a.reverse and not ("lat" in fields and "lon" in fields):
        ap.error("--reverse needs lat and lon among --fields")
    src = sys.stdin if a.addresses == "-" else open(a.addresses, newline="", encoding="utf-8")
    with src:
        reader = csv.DictReader(src)
        column = a.column or reader.fieldnames[0]
        if column not in reader.fieldnames:
            ap.error("no column %r in %s" % (column, a.addresses))
        addresses = [row[column] for row in reader]
    if not addresses:
        ap.error("no addresses in " + a.addresses)
    doc = build(addresses, fields, a.reverse, a.range, a.range_field)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
