from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest


def write_trace(path: Path, days: int = 10, seed: int = 0) -> Path:
    """A small rates trace: 10 days at 15-minute samples, daily and weekly seasonality."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 3, 2)
    lines = ["timestamp,rate"]
    for i in range(days * 96):
        t = start + timedelta(minutes=15 * i)
        hour = t.hour + t.minute / 60
        rate = 50 + 40 * np.sin(np.pi * hour / 24) ** 2 * (1.2 if t.weekday() < 5 else 0.8)
        lines.append(f"{t.isoformat()},{rate * np.exp(rng.normal(0, 0.03)):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def trace_csv(tmp_path: Path) -> Path:
    return write_trace(tmp_path / "calls.csv")
