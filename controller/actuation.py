"""How a decision becomes a change in the cluster: the scale subresource, or an HPA's floor.

Where an HPA already targets the workload, the controller never writes the workload's replicas
(the two would fight, each undoing the other every period). It raises the HPA's `minReplicas`
instead, and the HPA (which enforces its minimum before it even reads metrics) scales up; the
HPA's own reactive scaling still works above that floor. The HPA's original minimum is kept in an
annotation so the floor can only ever be lowered back to it, never below, and the scaler's name
in another, so the floors it raised can be restored when it is deleted or turned Off
(controller/finalizer.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

ORIGINAL_MIN_ANNOTATION = "edgewise.io/original-min-replicas"
OWNER_ANNOTATION = "edgewise.io/raised-by"


class ActuationKind(StrEnum):
    SCALE = "ScaleSubresource"
    HPA_MIN = "HpaMinReplicas"


@dataclass(frozen=True)
class HpaView:
    """An HPA whose scaleTargetRef is the workload."""

    name: str
    min_replicas: int
    max_replicas: int
    original_min: int | None  # from the annotation; None: never touched by us
    target: str = ""  # its scaleTargetRef, as `workload_key` spells it
    owner: str | None = None  # the scaler that raised its floor (OWNER_ANNOTATION)


def workload_key(kind: str, name: str) -> str:
    """A workload as an HPA's scaleTargetRef and a scaler's target both name it."""
    return f"{kind}/{name}"


def hpa_for(hpas: Sequence[HpaView], key: str) -> HpaView | None:
    """The HPA (of those listed in the namespace) whose scaleTargetRef is the workload `key`."""
    return next((h for h in hpas if h.target == key), None)


@dataclass(frozen=True)
class Action:
    kind: ActuationKind
    workload: str
    replicas: int
    hpa: str | None = None
    record_original_min: int | None = None  # set the annotation to this (first touch only)
    workload_kind: str = "Deployment"
    owner: str | None = None  # the scaler raising an HPA's floor (its OWNER_ANNOTATION)


def hpa_floor(desired: int, hpa: HpaView) -> int:
    """The minReplicas that asks the HPA for `desired` without ever going below the HPA's own
    minimum or above its maximum."""
    original = hpa.original_min if hpa.original_min is not None else hpa.min_replicas
    return max(original, min(desired, hpa.max_replicas))


def plan_action(workload: str, desired: int, current: int, hpa: HpaView | None,
                kind: str = "Deployment", owner: str | None = None) -> Action | None:
    """The one write this decision needs, or None when the cluster already says so."""
    if hpa is None:
        if desired == current:
            return None
        return Action(ActuationKind.SCALE, workload, desired, workload_kind=kind)
    floor = hpa_floor(desired, hpa)
    if floor == hpa.min_replicas:
        return None
    record = hpa.min_replicas if hpa.original_min is None else None
    return Action(ActuationKind.HPA_MIN, workload, floor, hpa.name, record, owner=owner)


def actuation_of(hpa: HpaView | None) -> ActuationKind:
    return ActuationKind.SCALE if hpa is None else ActuationKind.HPA_MIN
