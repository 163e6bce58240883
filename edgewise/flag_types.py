"""argparse `type=` functions shared by every command: a bad flag is one usage line, exit 2.

Each function takes the flag's text and returns the typed value or raises
`argparse.ArgumentTypeError` naming what is expected (argparse adds the flag's name).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from envs.dns_label import dns_label_problem

MAX_SEED = 2**32 - 1  # numpy's legacy seeding (stable-baselines3) takes 32 bits
MAX_JOBS = 256
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.?)+")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def integer(minimum: int, maximum: int) -> Callable[[str], int]:
    """A whole number in [minimum, maximum]."""

    def parse(text: str) -> int:
        value = _int(text)
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be between {minimum:,} and {maximum:,}, got {value:,}")
        return value

    parse.__name__ = "integer"
    return parse


def number(*, above: float | None = None, minimum: float | None = None,
           maximum: float | None = None) -> Callable[[str], float]:
    """A finite number (`nan`, `inf` refused) with the bounds given."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be > {above:g}, got {text}")
        if minimum is not None and not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum:g}, got {text}")
        if maximum is not None and not value <= maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


seed = integer(0, MAX_SEED)
jobs = integer(1, MAX_JOBS)
port = integer(1, 65_535)
port_or_zero = integer(0, 65_535)  # 0: the kernel picks a free port


def address(text: str) -> str:
    """An IP address to bind or a host name (letters, digits, '-', '.')."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if _HOSTNAME.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(f"expected an IP address or a host name, got {text!r}")
    return text


def log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
    assert isinstance(logging.getLevelName(level), int)
    return level


def timezone(text: str) -> str:
    """An IANA time zone name (`Europe/Berlin`), checked against the system's tz database."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r} (an IANA name such as Etc/UTC or Europe/Berlin)"
        ) from None
    if text not in available_timezones() and text != "UTC":
        raise argparse.ArgumentTypeError(f"unknown time zone {text!r}")
    return text


def dns_label(text: str) -> str:
    """A Kubernetes namespace (or other DNS-1123 label)."""
    problem = dns_label_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text
