"""`edgewise slo rules`: Prometheus recording and burn-rate alert rules from an SLO file.

Exit codes: 0 success, 2 bad input (one line on stderr naming the field).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edgewise.exits import Exit
from edgewise.outputs import claim_file


def cmd_rules(args: argparse.Namespace) -> int:
    """Bad SLO files (`InvalidSloError`, permanent) and refused outputs reach the top-level
    handler: one line on stderr, exit 2."""
    from slo.model import load_slos
    from slo.rules import render_rules

    if args.out != "-":
        claim_file(Path(args.out), force=args.force, inputs=[args.config])
    text = render_rules(load_slos(Path(args.config)))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return Exit.OK


def add_parser(sub: Any) -> None:
    slo = sub.add_parser("slo", help="service level objectives: Prometheus rules",
                         description="SLOs as ratio SLIs (latency from histogram buckets, "
                         "availability from error counters) with error budgets and "
                         "multiwindow multi-burn-rate alerts.")
    inner = slo.add_subparsers(dest="slo_command", required=True, parser_class=type(slo))
    rules = inner.add_parser("rules", help="write recording and alerting rules",
                             description="Recording rules for the error ratio over 5m..3d and "
                             "the SLO window, the objective and the budget remaining; alerts at "
                             "1h/5m 14.4x and 6h/30m 6x (page), 1d/2h 3x and 3d/6h 1x (ticket). "
                             "`promtool check rules` accepts the output.")
    rules.add_argument("--config", required=True, help="SLO YAML file (a list under `slos:`)")
    rules.add_argument("--out", default="-", help="rules file to write (default: stdout); an "
                       "existing file is refused unless --force, the --config never")
    rules.add_argument("--force", action="store_true", help="replace an existing --out file")
    rules.set_defaults(func=cmd_rules)
