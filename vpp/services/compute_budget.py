"""How much solver time one caller may spend: a token bucket per caller, per process.

A dispatch preview is a read, open to every viewer, but an adversarial fleet can
make one take up to its time limit; without a bound, a few viewers could keep every
worker busy. Each caller (an API token or a user, by its actor name) gets
``seconds_per_minute`` of solver time, refilled continuously; a preview may use at
most what is left, and none is started when nothing is left. Kept in memory, per
server process, like the prepared fleet: with W workers one caller can use at most
W times the budget, still a bound. Thread-safe.
"""

import threading
import time


class ComputeBudget:
    def __init__(self, seconds_per_minute: float):
        self.capacity = float(seconds_per_minute)
        self.rate = self.capacity / 60.0  # seconds of budget regained per second
        self._left: dict[str, tuple[float, float]] = {}  # caller -> (seconds left, at)
        self._lock = threading.Lock()

    def _refilled(self, caller: str, now: float) -> float:
        left, at = self._left.get(caller, (self.capacity, now))
        return min(self.capacity, left + (now - at) * self.rate)

    def available(self, caller: str) -> float:
        """Seconds of solver time ``caller`` may use now (0 or less: none)."""
        now = time.monotonic()
        with self._lock:
            return self._refilled(caller, now)

    def wait_s(self, caller: str) -> float:
        """Seconds until ``caller`` has budget again."""
        return max(0.0, -self.available(caller)) / self.rate

    def charge(self, caller: str, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._left[caller] = (self._refilled(caller, now) - seconds, now)
