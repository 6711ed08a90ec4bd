"""Progress of long work: a tqdm bar in a terminal, plain lines in a log.

Where standard error is a terminal, `progress_bar` gives a tqdm bar. Where it is a file or a pipe (a run
under nohup, `two-step train ... > log 2>&1`, a Ray worker, a notebook's captured stream), a bar's
carriage-return updates would fill the log; `PlainLines` writes instead one line every `every`
units or every `seconds`, whichever comes first, and one at the end:

    train: episode 4000/20000 (20%), reward 0.63, 412 episodes/s
"""

import sys
import time

from tqdm import tqdm


def progress_bar(total, initial=0, unit="it", desc="", enabled=True, every=None, seconds=30.0, stream=None):
    """A bar counting `unit`s from `initial` to `total`: tqdm where `stream` (standard error) is a
    terminal, else `PlainLines`. Both take `update(n)`, `set_postfix(**values)`, `restart_clock(at)`
    and work as context managers; `enabled=False` shows nothing."""
    stream = stream or sys.stderr
    if enabled and stream.isatty():
        return _Bar(total=total, initial=initial, unit=unit, desc=desc or None, file=stream, smoothing=0.05)
    return PlainLines(total, initial, unit, desc, enabled, every, seconds, stream)


class _Bar(tqdm):
    def restart_clock(self, at):
        """Start the rate's clock again at `at` units (after a compilation, so the rate counts work alone)."""
        self.reset(total=self.total)
        self.initial = self.n = self.last_print_n = at
        self.refresh()


class PlainLines:
    """A progress report in plain lines (see the module docstring)."""

    def __init__(self, total, initial=0, unit="it", desc="", enabled=True, every=None, seconds=30.0, stream=None):
        self.total, self.unit, self.desc, self.enabled = total, unit, desc, enabled
        self.every, self.seconds, self.stream = every, seconds, stream or sys.stderr
        self.postfix = {}
        self.restart_clock(initial)

    def restart_clock(self, at):
        self.n = self._clock_n = self._printed_n = at
        self._clock = self._printed = time.monotonic()

    def set_postfix(self, **values):
        self.postfix = values

    def update(self, n=1):
        self.n += n
        now = time.monotonic()
        if (self.every and self.n - self._printed_n >= self.every) or now - self._printed >= self.seconds:
            self._print(now)

    def line(self, now):
        """`desc: unit n/total (percent), postfix, rate units/s`."""
        parts = [f"{self.unit} {self.n}/{self.total}" + (f" ({100 * self.n / self.total:.0f}%)" if self.total else "")]
        parts += [f"{key.replace('_', ' ')} {value}" for key, value in self.postfix.items()]
        if now > self._clock and self.n > self._clock_n:
            parts.append(f"{(self.n - self._clock_n) / (now - self._clock):.3g} {self.unit}s/s")
        return (f"{self.desc}: " if self.desc else "") + ", ".join(parts)

    def _print(self, now):
        if self.enabled:
            print(self.line(now), file=self.stream, flush=True)
        self._printed, self._printed_n = now, self.n

    def close(self):
        if self.n != self._printed_n:
            self._print(time.monotonic())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
