"""Progress on long scans, on stderr so that stdout stays machine-readable."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


class Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def silent(cls) -> Progress:
        return cls(enabled=False)

    @classmethod
    def on_terminal(cls) -> Progress:
        return cls(enabled=True)

    def iterate(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        if not self.enabled:
            yield from items
            return
        # mininterval keeps a non-terminal log (CI, Airflow) to a line every few seconds.
        yield from tqdm(
            items,
            desc=description,
            total=total,
            unit=" docs",
            unit_scale=True,
            file=sys.stderr,
            mininterval=0.5 if sys.stderr.isatty() else 5.0,
        )

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stderr, flush=True)
