#!/usr/bin/python3
"""asyncio_many.py: thousands of concurrent `await client.geocode(...)` in one event loop — each
looks like a single lookup, and cellbatchd turns them into a few upstream batches.

    ./asyncio_many.py "10 Downing Street, London" "Tour Eiffel, Paris" ...
"""

import asyncio
import sys

import cellbatch
import cellbatch.aio


async def main(texts):
    async with cellbatch.aio.Client() as client:
        answers = await asyncio.gather(*(client.geocode(t) for t in texts),
                                       return_exceptions=True)
    for text, a in zip(texts, answers):
        if isinstance(a, cellbatch.Error):
            print("%s: %s" % (text, a.name))  # BadRequest, Timeout, Unreachable, ...
        elif a is None:
            print("%s: not found" % text)
        else:
            lat, lon = a  # a Location unpacks as (lat, lon)
            print("%s: %.6f, %.6f (%s, batch of %d)" % (text, lat, lon, a.address, a.batch_size))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
