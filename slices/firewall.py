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
    marked = [i for i in plan.interfaces if i.reply_mark is not None]
    if marked:
        mark = f"0x{marked[0].reply_mark:x}"
        # Per packet, not per flow: one ICMP id or TCP flow can move between the interfaces.
        body += ["  chain mark_in {",
                 "    type filter hook prerouting priority mangle; policy accept;"]
        body += [f'    iifname "{i.ifname}" ct mark set '
                 f'{mark if i.reply_mark is not None else "0x0"}' for i in plan.interfaces]
        body += ["  }",
                 "  chain mark_out {",
                 "    type route hook output priority mangle; policy accept;",
                 f"    ct direction reply ct mark {mark} meta mark set {mark}",
                 "  }"]
    text = "\n".join(body)
    dup = _duplicate_table(plan)
    digest = hashlib.sha256((text + dup).encode()).hexdigest()[:16]
    table = table_name(plan.slice_name)
    return f'table inet {table} {{\n  comment "ew:{digest}"\n{text}\n}}\n{dup}'


def _duplicate_table(plan: SitePlan) -> str:
    """From the switch to the end, send everything for the slice by both interfaces.

    A peer accepts this site's packets from exactly one of its two keys (AllowedIPs are
    exclusive) and it switches keys at a moment this site cannot see; sending both copies means
    one of them is always accepted and the other dropped by cryptokey routing. That includes
    replies leaving by the old interface (reply mark): a peer that sent a request by the old
    key and cut over before the answer came back accepts only the copy by the new one (a lost
    ping per cutover under load until this was added; netfilter never duplicates a copy).
    """
    if len(plan.interfaces) < 2:
        return ""
    primary, standby = plan.interfaces[0], plan.interfaces[1]
    if primary.generation < standby.generation:
        return ""
    return (f"table ip {table_name(plan.slice_name)} {{\n"
            "  chain dup_out {\n"
            "    type filter hook postrouting priority filter; policy accept;\n"
            f'    oifname "{primary.ifname}" ip daddr {plan.cidr} '
            f'dup to ip daddr device "{standby.ifname}"\n'
            f'    oifname "{standby.ifname}" ip daddr {plan.cidr} '
            f'dup to ip daddr device "{primary.ifname}"\n'
            "  }\n}\n")


def ruleset_digest(ruleset: str) -> str:
    """The `ew:<hash>` tag embedded in a rendered ruleset."""
    start = ruleset.index('"ew:') + 1
    return ruleset[start : ruleset.index('"', start)]
