"""Integer microsecond timestamps and their fast text forms (no wall clock anywhere)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from spearhunt.errors import SimulateError

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# "HH:MM:SS" by second of the day, shared by every formatter of time (joined from two-digit
# pieces: formatting 86,400 times took a tenth of a second at import).
_TWO = [f"{n:02d}" for n in range(60)]
_HM = [f"{h}:{m}:" for h in _TWO[:24] for m in _TWO]
HMS = tuple([hm + s for hm in _HM for s in _TWO])


class Clock:
    """Formats ``int`` microseconds since the epoch as the strings each log format uses."""

    __slots__ = ("dates", "days", "t0")

    def __init__(self, start: date, days: int) -> None:
        self.t0 = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * US
        self.days = days
        if not 10**15 <= self.t0 < 10**16:
            raise SimulateError(
                "start must fall between 2001 and 2286 (fixed-width Zeek times)", where="start"
            )
        # ISO dates by day + 1: one spare day on each side for events that spill over midnight.
        dates = [start + timedelta(days=i) for i in range(-1, days + 2)]
        self.dates = tuple(d.isoformat() for d in dates)

    def day_start(self, day: int) -> int:
        """Midnight UTC of day ``day`` (0-based) of the simulation."""
        return self.t0 + day * DAY

    def day_of(self, ts: int) -> int:
        """0-based simulation day of a timestamp."""
        return (ts - self.t0) // DAY

    def iso(self, ts: int) -> str:
        """``2026-03-02T08:14:55.123456Z`` (TimeCreated)."""
        d, rem = divmod(ts - self.t0, DAY)
        s, us = divmod(rem, US)
        return f"{self.dates[d + 1]}T{HMS[s]}.{us:06d}Z"

    def sysmon(self, ts: int) -> str:
        """``2026-03-02 08:14:55.123`` (Sysmon UtcTime)."""
        d, rem = divmod(ts - self.t0, DAY)
        s, us = divmod(rem, US)
        return f"{self.dates[d + 1]} {HMS[s]}.{us // 1000:03d}"

    def both(self, ts: int) -> tuple[str, str]:
        """(TimeCreated, Sysmon UtcTime) in one go."""
        d, rem = divmod(ts - self.t0, DAY)
        s, us = divmod(rem, US)
        day, hms = self.dates[d + 1], HMS[s]
        return f"{day}T{hms}.{us:06d}Z", f"{day} {hms}.{us // 1000:03d}"

    def zeek(self, ts: int) -> str:
        """``1772439295.123456`` (Zeek epoch seconds; always 10 + 1 + 6 characters, so the
        text sorts like the time)."""
        s = str(ts)
        return f"{s[:10]}.{s[10:]}"

    def datetime(self, ts: int) -> datetime:
        """Aware UTC datetime (for mail headers and the truth file; not on hot paths)."""
        return datetime.fromtimestamp(ts // US, tz=UTC).replace(microsecond=ts % US)
