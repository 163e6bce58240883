"""DNS-1123 labels: the names Kubernetes accepts for namespaces, and what site names must be.

Site (store, region) names become cluster names, file names (`manifests/<cluster>.yaml`) and
Kubernetes names, so they are checked at load: lower-case letters, digits and `-`, starting and
ending with a letter or digit, at most 63 characters. Nothing else (no `/`, `..`, spaces).
"""

from __future__ import annotations

import re

MAX_LABEL = 63
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def is_dns_label(value: object) -> bool:
    return (isinstance(value, str) and len(value) <= MAX_LABEL
            and _LABEL.fullmatch(value) is not None)


def dns_label_problem(value: object) -> str | None:
    """Why `value` is not a DNS-1123 label, or None if it is one."""
    if is_dns_label(value):
        return None
    return (f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', starting and "
            f"ending with a letter or digit, at most {MAX_LABEL} characters)")
