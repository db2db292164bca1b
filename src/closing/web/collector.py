"""The server's garbage collections: the young generations as Python makes them, the full ones
only when the boards are quiet.

A full collection walks every object the server holds and holds the GIL while it does: at a
2,000-purchaser deal, 130-170 ms in which no page, stream or thread of the server moves. Python
started one every second or two while marks came in (each rebuild's board counts towards the
next), and a page load that fell on one waited for it: that, not the rebuilds, was most of the
page loads' slow tail (p95 186-252 ms; 81-109 ms without). And they found next to nothing: the
boards are freed by their reference counts, a few cycles a minute are left.

So `serve` turns Python's own full collections off (`without_full_collections`) and the
`Collector` makes one every `every` seconds, at a moment when no board has been rebuilt for
`quiet` seconds (or, with boards rebuilt without a pause, once `every` more have passed).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable

FULL_EVERY = 300.0  # seconds between full collections
QUIET = 2.0  # seconds without a rebuild before one is made
NEVER = 2**30  # a third threshold no count of collections reaches


def without_full_collections() -> tuple[int, int, int]:
    """Python's automatic full collections off (the young generations as they were); the
    thresholds before, to put back."""
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], NEVER)
    return before


class Collector:
    """Full collections at quiet moments: `run` until cancelled."""

    def __init__(
        self,
        last_rebuilds: Callable[[], Iterable[float]],
        every: float = FULL_EVERY,
        quiet: float = QUIET,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
    ) -> None:
        self.last_rebuilds = last_rebuilds  # each board's last rebuild, on `clock`
        self.every = every
        self.quiet = quiet
        self.clock = clock
        self.collect = collect
        self.last = clock()
        self.collections = 0

    def due(self) -> bool:
        """Whether a full collection is to be made now."""
        now = self.clock()
        if now - self.last < self.every:
            return False
        overdue = now - self.last >= 2 * self.every
        return overdue or all(now - built >= self.quiet for built in self.last_rebuilds())

    def step(self) -> bool:
        """A full collection when one is due; whether one was made."""
        if not self.due():
            return False
        self.collect()
        self.last = self.clock()
        self.collections += 1
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(self.quiet, self.every) / 2)
            self.step()
