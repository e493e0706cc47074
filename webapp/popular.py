"""The most-read articles: opened from a search in the last 30 days, counted in the database at most every
10 minutes per app (the no-results page reads them; nobody needs them fresher)."""
from __future__ import annotations

import threading
import time

from flask import current_app

from . import db
from .storehealth import best_effort

WINDOW_DAYS = 30
REFRESH_SECONDS = 600


class ClickCounts:
    """Article id → opens from a search in the window, counted again after REFRESH_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._counted_at = float("-inf")

    def read(self) -> dict[str, int]:
        now = time.monotonic()
        with self._lock:
            if now - self._counted_at < REFRESH_SECONDS:
                return self._counts
            self._counted_at = now  # one refresh at a time; the others read the last counts meanwhile
        counts = best_effort("most-read counts", db.click_counts, time.time() - WINDOW_DAYS * 86400)
        if counts is not None:  # the store refused: the last counts (or none) until the next refresh
            with self._lock:
                self._counts = counts
        return self._counts


def most_read(articles: list, n: int = 5) -> list:
    """The `n` most-read of `articles` (already those the reader may see), their browse order on a tie."""
    counts = current_app.extensions.setdefault("kb.click_counts", ClickCounts()).read()
    ranked = sorted(enumerate(articles), key=lambda pair: (-counts.get(pair[1].id, 0), pair[0]))
    return [a for _, a in ranked[:n]]
