#!/usr/bin/python3
"""recalc.py: recalculates a spreadsheet in headless LibreOffice with the cellbatch add-in, waits until no cell is pending, writes CSV.

    /usr/bin/python3 examples/calc/recalc.py [--oxt cellbatch.oxt] [--profile DIR] SHEET OUT.csv

Installs the add-in into a throwaway LibreOffice profile (or --profile, kept
for the next run), opens SHEET hidden, waits until no cell shows #PENDING
(GEOCODE and REVERSE cells are asynchronous), and stores the first sheet as
UTF-8 CSV with full-precision numbers. The add-in reads CELLBATCH_URL.
Needs Debian's libreoffice-calc, libreoffice-script-provider-python and
python3-uno (run with /usr/bin/python3, whose modules those are).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import uno
import unohelper
from com.sun.star.connection import NoConnectException
from com.sun.star.task import XInteractionHandler
from com.sun.star.ucb import XCommandEnvironment, XProgressHandler

PENDING = "#PENDING"
# UTF-8, comma, double quotes, numbers as stored rather than as shown (token 9)
CSV_FILTER = ("Text - txt - csv (StarCalc)", "44,34,76,1,,0,false,true,false,false")


def log(*a):
    print("recalc:", *a, file=sys.stderr, flush=True)


def soffice_binary():
    return shutil.which("soffice") or "/usr/lib/libreoffice/program/soffice"


def prop(name, value):
    p = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
    p.Name, p.Value = name, value
    return p


class Office:
    """One headless soffice with its own profile, reached over a named pipe."""

    def __init__(self, profile, timeout):
        self.profile = profile
        self.pipe = "cellbatch-%d-%d" % (os.getpid(), int(time.monotonic() * 1000))
        env = dict(os.environ)
        env.setdefault("HOME", profile)
        self.proc = subprocess.Popen(
            [soffice_binary(), "-env:UserInstallation=" + uno.systemPathToFileUrl(profile),
             "--headless", "--invisible", "--norestore", "--nologo", "--nodefault",
             "--accept=pipe,name=%s;urp;StarOffice.ComponentContext" % self.pipe],
            env=env, stdin=subprocess.DEVNULL)
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ctx = resolver.resolve(
                    "uno:pipe,name=%s;urp;StarOffice.ComponentContext" % self.pipe)
                break
            except NoConnectException:
                if self.proc.poll() is not None:
                    raise RuntimeError("soffice exited with %d before accepting" % self.proc.returncode)
                if time.monotonic() > deadline:
                    raise RuntimeError("soffice did not accept a connection in %ds" % timeout)
                time.sleep(0.1)
        self.smgr = self.ctx.ServiceManager
        self.desktop = self.smgr.createInstanceWithContext("com.sun.star.frame.Desktop", self.ctx)

    def stop(self, timeout):
        """Asks soffice to quit and waits; returns its exit status."""
        try:
            self.desktop.terminate()
        except Exception:
            pass  # the bridge goes down with the process
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("soffice did not exit within %ds of terminate()" % timeout)


class _Approve(unohelper.Base, XCommandEnvironment, XInteractionHandler, XProgressHandler):
    """Says yes to the extension manager's questions (a license, a first install)."""

    def getInteractionHandler(self):
        return self

    def getProgressHandler(self):
        return self

    def handle(self, request):
        approve = uno.getTypeByName("com.sun.star.task.XInteractionApprove")
        for c in request.getContinuations():
            if c.queryInterface(approve):
                c.select()
                return

    def push(self, status):
        pass

    def update(self, status):
        pass

    def pop(self):
        pass


def install(office, oxt):
    """Adds oxt to the profile's user extensions; unopkg refuses root, this API does not."""
    mgr = office.ctx.getValueByName("/singletons/com.sun.star.deployment.ExtensionManager")
    env = _Approve()
    url = uno.systemPathToFileUrl(os.path.abspath(oxt))
    mgr.addExtension(url, (), "user", None, env)


def pending_cells(doc):
    """How many cells of any sheet still show PENDING."""
    n = 0
    sheets = doc.getSheets()
    for i in range(sheets.getCount()):
        sheet = sheets.getByIndex(i)
        cursor = sheet.createCursor()
        cursor.gotoEndOfUsedArea(False)
        end = cursor.getRangeAddress()
        if end.EndColumn == 0 and end.EndRow == 0:
            continue
        data = sheet.getCellRangeByPosition(0, 0, end.EndColumn, end.EndRow).getDataArray()
        n += sum(1 for row in data for v in row if v == PENDING)
    return n


def recalc(office, sheet, out, timeout):
    doc = office.desktop.loadComponentFromURL(
        uno.systemPathToFileUrl(os.path.abspath(sheet)), "_blank", 0, (prop("Hidden", True),))
    if doc is None:
        raise RuntimeError("LibreOffice could not open " + sheet)
    try:
        t0 = time.monotonic()
        while True:
            n = pending_cells(doc)
            if n == 0:
                break
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("%d cells still %s after %ds" % (n, PENDING, timeout))
            time.sleep(0.05)
        log("%s: no cell pending after %.2f s" % (os.path.basename(sheet), time.monotonic() - t0))
        doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(out)),
                       (prop("FilterName", CSV_FILTER[0]), prop("FilterOptions", CSV_FILTER[1])))
    finally:
        doc.close(True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sheet", help="the spreadsheet (.fods, .ods, .csv, ...)")
    ap.add_argument("out", help="where to write the first sheet as CSV")
    ap.add_argument("--oxt", help="install this cellbatch.oxt into the profile first")
    ap.add_argument("--profile", help="LibreOffice profile directory (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=120,
                    help="seconds to wait for pending cells, and for soffice (default 120)")
    a = ap.parse_args()

    tmp = None
    profile = a.profile
    if profile is None:
        tmp = profile = tempfile.mkdtemp(prefix="cellbatch-lo-")
    os.makedirs(profile, exist_ok=True)
    try:
        if a.oxt:
            # a fresh soffice after the install, so that Calc lists the new add-in's functions
            office = Office(profile, a.timeout)
            install(office, a.oxt)
            status = office.stop(a.timeout)
            log("installed %s (soffice exit %d)" % (a.oxt, status))
        office = Office(profile, a.timeout)
        try:
            recalc(office, a.sheet, a.out, a.timeout)
        finally:
            status = office.stop(a.timeout)
        log("soffice exit %d" % status)
        return 0 if status == 0 else 1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
