"""pyxll_udf.py: an Excel async UDF in the PyXLL style, over cellbatch.aio — documented, not run
in CI (it needs Excel and PyXLL).

Excel calls an `async def` UDF once per cell and keeps recalculating while it awaits, so a sheet
of 5,000 =GEOCODE(A2) cells becomes 5,000 concurrent awaits on PyXLL's event loop; cellbatchd
collects them into a few upstream batches instead of 5,000 requests. Add this module to
pyxll.cfg's `modules`, start cellbatchd, and set CELLBATCH_URL in Excel's environment.
"""

import cellbatch
import cellbatch.aio

try:
    from pyxll import xl_func  # type: ignore[import]
except ImportError:  # outside Excel: a stand-in so the module imports and can be read
    def xl_func(signature=None, **kwargs):
        return lambda f: f

_client = None


def _get_client() -> "cellbatch.aio.Client":
    """One client per Excel process, opened on first use (thread-safe in libcellbatch)."""
    global _client
    if _client is None:
        _client = cellbatch.aio.Client()
    return _client


@xl_func("str address, str field: var")
async def GEOCODE(address: str, field: str = ""):
    """=GEOCODE(A2) gives "lat, lon"; =GEOCODE(A2, "lat"), "lon" or "formatted" one field.
    Errors show as their code (NOT_FOUND, TIMEOUT, UNREACHABLE, ...)."""
    if not address:
        return ""
    try:
        loc = await _get_client().geocode(address)
    except cellbatch.Error as e:
        return "#" + e.name
    if loc is None:
        return "#NOT_FOUND"
    if field == "lat":
        return loc.latitude
    if field == "lon":
        return loc.longitude
    if field == "formatted":
        return loc.address
    return "%.6f, %.6f" % (loc.latitude, loc.longitude)


@xl_func("float lat, float lon: str")
async def REVERSE(lat: float, lon: float) -> str:
    """=REVERSE(B2, C2): the formatted address at a location."""
    try:
        loc = await _get_client().reverse(lat, lon)
    except cellbatch.Error as e:
        return "#" + e.name
    return loc.address if loc is not None else "#NOT_FOUND"
