"""cellbatch: per-cell geocoding calls to a cellbatchd server, batched, deduplicated, cached and
rate-limited across every process that uses it.

    import cellbatch
    with cellbatch.Client() as c:               # $CELLBATCH_URL, else the default socket
        lat, lon = c.geocode("Tour Eiffel, Paris")

``cellbatch.aio.Client`` is the asyncio twin, ``cellbatch.geopy.CellBatch`` a geopy geocoder,
``cellbatch.pandas.geocode_column`` fills a DataFrame. A binding over libcellbatch (ctypes):
the library is found through ``$CELLBATCH_LIB``, the build tree or the install prefix, and
importing fails with LibraryError (an ImportError) when it is missing or too old.
"""

from ._native import LibraryError, MIN_VERSION, library_path, library_version
from .client import Client, Progress
from .errors import (BadRequest, Busy, Error, ErrorCode, QuotaExceeded, ShuttingDown, Timeout,
                     Unauthorized, Unreachable, UpstreamError, error_for)
from .location import Location

__version__ = library_version

__all__ = [
    "Client", "Location", "Progress", "Error", "ErrorCode", "BadRequest", "Timeout", "Busy",
    "QuotaExceeded", "UpstreamError", "Unreachable", "Unauthorized", "ShuttingDown",
    "LibraryError", "error_for", "library_path", "library_version", "MIN_VERSION",
]
