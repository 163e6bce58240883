"""QoS per slice: a token-bucket cap (tc HTB) on a site's slice interface. Pure: argv and parsing.

The cap applies to what the site sends into the slice, before encryption, so a slice capped at
R Mbit/s puts at most about R Mbit/s (plus WireGuard's overhead) on the site's underlay link and
leaves the rest to the other slices sharing it. `apply.Host` runs the argv built here.
"""

from __future__ import annotations

import re

from slices.model import QosProfile

HTB_HANDLE = "1:"
HTB_CLASS = "1:10"
_CLASS_RE = re.compile(r"class htb 1:10 .*?\brate (\d+(?:\.\d+)?)([KMG]?)bit")
_SCALE = {"": 1e-6, "K": 1e-3, "M": 1.0, "G": 1e3}


def observed_rate_mbit(class_text: str) -> float | None:
    """The rate of the slice's HTB class in `tc class show` text, None when there is none."""
    match = _CLASS_RE.search(class_text)
    return float(match.group(1)) * _SCALE[match.group(2)] if match else None


def needs_change(wanted: QosProfile | None, observed_mbit: float | None) -> bool:
    if wanted is None:
        return observed_mbit is not None
    return observed_mbit is None or abs(observed_mbit - wanted.rate_mbit) > 0.5


def apply_argv(ifname: str, wanted: QosProfile | None) -> list[list[str]]:
    """The tc commands that make `ifname` match `wanted` (no cap: remove the root qdisc)."""
    if wanted is None:
        return [["tc", "qdisc", "del", "dev", ifname, "root"]]
    rate = f"{wanted.rate_mbit}mbit"
    return [
        ["tc", "qdisc", "replace", "dev", ifname, "root", "handle", HTB_HANDLE, "htb",
         "default", "10"],
        ["tc", "class", "replace", "dev", ifname, "parent", HTB_HANDLE, "classid", HTB_CLASS,
         "htb", "rate", rate, "ceil", rate],
    ]
