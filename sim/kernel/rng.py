"""Named, independent random streams derived from one simulation seed.

Part of ``sim.kernel``, the lowest layer of the simulator; it imports nothing
from the rest of ``sim``. The rule for randomness in the whole simulator is:
every consumer asks for a *named* stream (``"net.jitter"``,
``"source.orders"``, ...) and draws only from that. Nothing may use the
module-level functions of :mod:`random` (the global generator), the wall
clock, or Python's ``hash()``, since any of those would make runs differ.
"""

from __future__ import annotations

import hashlib
import random


def _stream_seed(seed: int, name: str) -> int:
    """Derives a stream's 64-bit seed from the run seed and the stream name."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class RngStreams:
    """A family of named ``random.Random`` streams sharing one run seed.

    Each name's generator is seeded from ``sha256(f"{seed}:{name}")`` alone,
    so a stream's draws depend only on the run seed, the name and how many
    draws that same stream has made. Creating or using another stream never
    changes them, which keeps runs comparable when components are added.

    Example:
        >>> streams = RngStreams(7)
        >>> jitter = streams.stream("net.jitter")
        >>> jitter is streams.stream("net.jitter")
        True
    """

    def __init__(self, seed: int) -> None:
        """Creates the family.

        Args:
            seed: The run seed; any ``int`` (``bool`` is rejected).

        Raises:
            TypeError: If ``seed`` is not an ``int``.
        """
        if type(seed) is bool or not isinstance(seed, int):
            raise TypeError(
                f"seed must be an int, got {seed!r} ({type(seed).__name__})"
            )
        self._seed = seed
        self._streams: dict[str, random.Random] = {}

    @property
    def seed(self) -> int:
        """The run seed every stream is derived from."""
        return self._seed

    def stream(self, name: str) -> random.Random:
        """Returns the generator for ``name``, creating it on first use.

        The same instance is returned on every call, so draws continue where
        the previous caller left off.

        Args:
            name: The stream's name, e.g. ``"source.orders"``.

        Returns:
            The stream's ``random.Random`` instance.

        Raises:
            TypeError: If ``name`` is not a ``str``.
        """
        if not isinstance(name, str):
            raise TypeError(
                f"stream name must be a str, got {name!r} ({type(name).__name__})"
            )
        rng = self._streams.get(name)
        if rng is None:
            rng = random.Random(_stream_seed(self._seed, name))
            self._streams[name] = rng
        return rng

    def __repr__(self) -> str:
        return f"RngStreams(seed={self._seed!r}, streams={sorted(self._streams)!r})"
