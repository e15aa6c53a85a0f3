"""location: cellbatch.Location, one answer of the geocoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional


@dataclass(frozen=True)
class Location:
    """A place: ``lat, lon = location`` unpacks its coordinates.

    ``address`` is the upstream's formatted address ("" when it gave none), ``confidence``
    0..1 or None, ``result_type`` ("building", "amenity", ...) or None, ``cached`` whether
    cellbatchd answered from its cache, ``batch_size`` how many items the upstream batch
    that served it held, ``raw`` every field as a dict.
    """

    latitude: float
    longitude: float
    address: str = ""
    confidence: Optional[float] = None
    result_type: Optional[str] = None
    # how it was served, not what it is: not part of equality
    cached: bool = field(default=False, compare=False)
    batch_size: int = field(default=0, compare=False)
    raw: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __iter__(self) -> Iterator[float]:
        yield self.latitude
        yield self.longitude

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> float:
        return (self.latitude, self.longitude)[i]

    @property
    def point(self) -> tuple:
        """(latitude, longitude)."""
        return (self.latitude, self.longitude)
