#!/usr/bin/python3
"""geopy_swap.py: an existing geopy + pandas script, with cellbatch swapped in for the geocoder in
one line. RateLimiter keeps working; with cellbatchd pacing the upstream for everyone, the delay
can be 0 and rows asked at once (a thread pool) share one upstream batch.

    ./geopy_swap.py addresses.csv
"""

import sys
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from geopy.extra.rate_limiter import RateLimiter

from cellbatch.geopy import CellBatch

df = pd.read_csv(sys.argv[1])
geolocator = CellBatch()  # was: Nominatim(user_agent="my-script")
geocode = RateLimiter(geolocator.geocode, min_delay_seconds=0)

# was: df["location"] = df["address"].apply(geocode) — one upstream request per row
with ThreadPoolExecutor(64) as pool:
    df["location"] = list(pool.map(geocode, df["address"]))
df["point"] = df["location"].apply(lambda loc: loc.point if loc else None)
print(df[["address", "point"]])

# or without geopy: cellbatch.pandas.geocode_column(df, "address") adds lat, lon, formatted, status
