"""pandas: cellbatch.pandas.geocode_column, a DataFrame column of addresses geocoded as multi
messages of 1,000 rows (pandas is imported only by this module)."""

from __future__ import annotations

import math
from typing import Any, Optional

import pandas as pd

from .client import Client, Progress
from .errors import Error

__all__ = ["geocode_column"]


def geocode_column(df: "pd.DataFrame", column: str, *, client: Optional[Client] = None,
                   url: Optional[str] = None, prefix: str = "",
                   progress: Optional[Progress] = None, **opts: Any) -> "pd.DataFrame":
    """Geocodes df[column] and adds the columns ``lat``, ``lon``, ``formatted`` and ``status``
    (each under ``prefix``) to df, which it returns. status is "OK", "NOT_FOUND", "EMPTY" for
    a blank cell, or the error's name ("BAD_REQUEST", "TIMEOUT", ...). Rows are sent as one
    multi per 1,000; ``opts`` are cellbatch.Client.geocode's options."""
    texts = [_text(v) for v in df[column]]
    asked = [t for t in texts if t]
    own = client is None
    c = Client(url) if own else client
    try:
        answers = iter(c.geocode_many(asked, progress=progress, **opts) if asked else [])
    finally:
        if own:
            c.close()
    lat, lon, formatted, status = [], [], [], []
    for t in texts:
        a = next(answers) if t else None
        ok = t and a is not None and not isinstance(a, Error)
        lat.append(a.latitude if ok else math.nan)
        lon.append(a.longitude if ok else math.nan)
        formatted.append(a.address if ok else None)
        status.append("EMPTY" if not t else "NOT_FOUND" if a is None
                      else a.name if isinstance(a, Error) else "OK")
    df[prefix + "lat"], df[prefix + "lon"] = lat, lon
    df[prefix + "formatted"], df[prefix + "status"] = formatted, status
    return df


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v).strip()
