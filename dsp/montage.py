"""Electrode montages: which channel belongs to which facial region, muscles and action units.

The default is the perifacial six-region layout (Li et al. 2025 [ChinaXiv:202506.00079]): three regions per side
(upper, middle, lower), each
with 4 recording electrodes (channels) and 1 reference, 24 channels in all. The data live in
``hardware/montage.json`` (package :mod:`perifacial.hardware`) so that labs can ship their own montage file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ._json import read_json

__all__ = ["Region", "Montage", "default_montage", "load_montage"]


@dataclass(frozen=True)
class Region:
    """One facial region: its name (``"left_upper"``), short code (``"LU"``), side, level, channel indices (0-based
    rows of a ``[channels, samples]`` array), the muscles under it and the FACS action units they produce.

    Attributes
    ----------
    name : str
        E.g. ``"left_upper"``.
    code : str
        Short code used in labels, e.g. ``"LU"``.
    side, level : str
        ``"left"``/``"right"``; ``"upper"``/``"middle"``/``"lower"``.
    channels : tuple of int
        0-based rows of ``[channels, samples]`` arrays.
    muscles, aus : tuple of str
        The muscles under the region and the FACS action units they produce.
    placement : str
        Where the electrodes go, in words.

    Examples
    --------
    >>> from perifacial.dsp import default_montage
    >>> r = default_montage().region("left_middle")
    >>> r.code, r.channels, r.muscles
    ('LM', (4, 5, 6, 7), ('orbicularis oculi', 'zygomaticus major'))
    """

    name: str
    code: str
    side: str
    level: str
    channels: tuple[int, ...]
    muscles: tuple[str, ...] = ()
    aus: tuple[str, ...] = ()
    placement: str = ""


@dataclass(frozen=True)
class Montage:
    """A set of regions covering ``n_channels`` channels. ``labels[i]`` names channel ``i`` (region code + electrode
    number 1..k, e.g. ``"LU1"``: short enough for EDF/BDF's 16-character labels).

    Attributes
    ----------
    name : str
        E.g. ``"perifacial-6x4"``.
    regions : tuple of Region
        In order; every channel in exactly one region.
    description : str
        Free text.
    labels : tuple of str
        One per channel, derived from the regions.

    Examples
    --------
    >>> from perifacial.dsp import Montage, Region
    >>> m = Montage("two-muscle", (Region("left_cheek", "LC", "left", "middle", (0, 1)),
    ...                            Region("left_brow", "LB", "left", "upper", (2,))))
    >>> m.labels, m.n_channels, m.region_of(2).name
    (('LC1', 'LC2', 'LB1'), 3, 'left_brow')
    """

    name: str
    regions: tuple[Region, ...]
    description: str = ""
    labels: tuple[str, ...] = field(init=False)
    _region_index: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        owner: dict[int, int] = {}
        for ri, region in enumerate(self.regions):
            if not region.channels:
                raise ValueError(f"montage {self.name!r}: region {region.name!r} has no channels")
            for ch in region.channels:
                if ch < 0:
                    raise ValueError(f"montage {self.name!r}: region {region.name!r} has negative channel {ch}")
                if ch in owner:
                    other = self.regions[owner[ch]].name
                    raise ValueError(f"montage {self.name!r}: channel {ch} is in both {other!r} and {region.name!r}")
                owner[ch] = ri
        n = max(owner) + 1
        missing = sorted(set(range(n)) - set(owner))
        if missing:
            raise ValueError(f"montage {self.name!r}: channels {missing} belong to no region")
        labels = [""] * n
        for region in self.regions:
            for k, ch in enumerate(region.channels):
                labels[ch] = f"{region.code}{k + 1}"
        object.__setattr__(self, "labels", tuple(labels))
        object.__setattr__(self, "_region_index", tuple(owner[ch] for ch in range(n)))

    @property
    def n_channels(self) -> int:
        return len(self.labels)

    def region_of(self, channel: int) -> Region:
        """The region that channel ``channel`` (0-based) belongs to."""
        if not 0 <= channel < self.n_channels:
            raise IndexError(f"channel {channel} is outside 0..{self.n_channels - 1} of montage {self.name!r}")
        return self.regions[self._region_index[channel]]

    def region(self, name: str) -> Region:
        """Look a region up by name (``"left_upper"``) or code (``"LU"``)."""
        for r in self.regions:
            if name in (r.name, r.code):
                return r
        known = ", ".join(r.name for r in self.regions)
        raise KeyError(f"no region {name!r} in montage {self.name!r} (known: {known})")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "regions": [
                {
                    "name": r.name,
                    "code": r.code,
                    "side": r.side,
                    "level": r.level,
                    "channels": list(r.channels),
                    "muscles": list(r.muscles),
                    "aus": list(r.aus),
                    "placement": r.placement,
                }
                for r in self.regions
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Montage:
        try:
            regions = tuple(
                Region(
                    name=r["name"],
                    code=r["code"],
                    side=r.get("side", ""),
                    level=r.get("level", ""),
                    channels=tuple(int(c) for c in r["channels"]),
                    muscles=tuple(r.get("muscles", ())),
                    aus=tuple(r.get("aus", ())),
                    placement=r.get("placement", ""),
                )
                for r in d["regions"]
            )
            return cls(name=d["name"], regions=regions, description=d.get("description", ""))
        except KeyError as exc:
            raise ValueError(f"montage description lacks the field {exc.args[0]!r}") from None


def load_montage(path: str | Path) -> Montage:
    """Read a montage JSON file (the format of ``hardware/montage.json``).

    Parameters
    ----------
    path : str or Path
        A montage JSON file (the format of ``hardware/montage.json``).

    Returns
    -------
    Montage

    Examples
    --------
    >>> import json, tempfile, os
    >>> from perifacial.dsp import default_montage, load_montage
    >>> path = os.path.join(tempfile.mkdtemp(), "montage.json")
    >>> with open(path, "w") as f:
    ...     json.dump(default_montage().to_dict(), f)
    >>> load_montage(path).labels == default_montage().labels
    True
    """
    return Montage.from_dict(read_json(path, "montage file"))


def default_montage() -> Montage:
    """The six-region, 24-channel perifacial montage shipped in ``hardware/montage.json``.

    Returns
    -------
    Montage
        The six-region, 24-channel perifacial montage of ``hardware/montage.json``.

    Examples
    --------
    >>> from perifacial.dsp import default_montage
    >>> m = default_montage()
    >>> m.name, m.n_channels, [r.code for r in m.regions]
    ('perifacial-6x4', 24, ['LU', 'LM', 'LL', 'RU', 'RM', 'RL'])
    >>> m.labels[:5], m.region_of(5).name
    (('LU1', 'LU2', 'LU3', 'LU4', 'LM1'), 'left_middle')
    """
    text = resources.files("perifacial.hardware").joinpath("montage.json").read_text(encoding="utf-8")
    return Montage.from_dict(json.loads(text))
