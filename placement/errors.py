"""Errors raised by placement. Each message names the object at fault and, where it can, the fix.

The CLI turns any `PlacementError` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class PlacementError(Exception):
    """Base class: placement input or a placement problem that cannot be solved."""


class TopologyError(PlacementError):
    """A topology file that cannot be parsed (unknown region, negative capacity, bad YAML...)."""


class AppError(PlacementError):
    """An app (service graph + placement annotations) that cannot be parsed."""


class InfeasibleError(PlacementError):
    """No placement meets every requirement; the message names the constraint that cannot be met."""


class SolverError(PlacementError):
    """A solver failed for a reason other than infeasibility (time limit, numerical trouble)."""
