"""nftables rules for one slice on one site, rendered as text (pure; apply loads them).

Defence in depth behind AllowedIPs: traffic entering a slice interface must come from the
slice's CIDR, and nothing is forwarded between a slice interface and any other interface.
During a key rotation, replies to traffic that arrived on the standby interface leave by it.
"""

from __future__ import annotations

import hashlib

from slices.model import SitePlan


def table_name(slice_name: str) -> str:
    return "ew_" + hashlib.sha256(slice_name.encode()).hexdigest()[:12]


def _names(plan: SitePlan) -> str:
    return "{ " + ", ".join(f'"{i.ifname}"' for i in plan.interfaces) + " }"


def render_ruleset(plan: SitePlan) -> str:
    """A whole `table inet ...` block; its text hash, in the comment, makes apply idempotent."""
    names = _names(plan)
    body = [
        "  chain input {",
        "    type filter hook input priority filter; policy accept;",
        f"    iifname {names} ip saddr != {plan.cidr} drop",
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        f"    iifname {names} oifname != {names} drop",
        f"    oifname {names} iifname != {names} drop",
        f"    iifname {names} ip daddr != {plan.cidr} drop",
        "  }",
    ]
    for iface in plan.interfaces:
        if iface.reply_mark is None:
            continue
        mark = f"0x{iface.reply_mark:x}"
        body += [
            "  chain mark_in {",
            "    type filter hook prerouting priority mangle; policy accept;",
            f'    iifname "{iface.ifname}" ct mark set {mark}',
            "  }",
            "  chain mark_out {",
            "    type route hook output priority mangle; policy accept;",
            f"    ct mark {mark} meta mark set {mark}",
            "  }",
        ]
    text = "\n".join(body)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f'table inet {table_name(plan.slice_name)} {{\n  comment "ew:{digest}"\n{text}\n}}\n'


def ruleset_digest(ruleset: str) -> str:
    """The `ew:<hash>` tag embedded in a rendered ruleset."""
    start = ruleset.index('"ew:') + 1
    return ruleset[start : ruleset.index('"', start)]
