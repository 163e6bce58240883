"""The finalizer that gives back every HPA floor a PredictiveScaler raised.

While a scaler is Active the controller may raise HPAs' `minReplicas` (controller/actuation.py),
marking each with its original minimum and the scaler's name. The finalizer
`edgewise.io/restore-hpa`, added before the first write, keeps a deleted scaler in the apiserver
until those floors are restored; mode Off restores them too and drops the finalizer, since the
scaler then raises nothing. A spec that drops a target restores that target's HPA when the
new spec is first reconciled (and once after every controller start).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from controller.actuation import HpaView
from controller.spec import Mode

FINALIZER = "edgewise.io/restore-hpa"


class Step(StrEnum):
    NONE = "None"
    ADD = "AddFinalizer"
    RESTORE = "RestoreAndRelease"  # restore every raised HPA, then remove the finalizer


@dataclass(frozen=True)
class Restore:
    hpa: str
    min_replicas: int


def finalizer_step(deleting: bool, mode: Mode | None, finalizers: Sequence[str]) -> Step:
    """What this reconcile does about the finalizer; `mode` is None when the spec is invalid."""
    held = FINALIZER in finalizers
    if deleting or mode is Mode.OFF:
        return Step.RESTORE if held else Step.NONE
    if mode is Mode.ACTIVE and not held:
        return Step.ADD
    return Step.NONE


def raised_by(hpas: Sequence[HpaView], scaler: str) -> list[HpaView]:
    """The HPAs (of those listed in the namespace) whose floor `scaler` raised."""
    return [h for h in hpas if h.owner == scaler]


def restores(raised: Sequence[HpaView]) -> tuple[Restore, ...]:
    """The original minimum of every HPA the scaler raised (those recording one)."""
    return tuple(Restore(h.name, h.original_min) for h in raised if h.original_min is not None)


def orphaned(raised: Sequence[HpaView], targets: Collection[str]) -> tuple[Restore, ...]:
    """Restores for the HPAs the scaler raised whose workload ("Kind/name") is no longer one
    of its `targets`: a target removed from the spec gives its HPA back at once."""
    return restores([h for h in raised if h.target not in targets])


def without(finalizers: Sequence[str]) -> list[str]:
    return [f for f in finalizers if f != FINALIZER]


def adding(finalizers: Sequence[str]) -> list[str]:
    return [*finalizers, FINALIZER] if FINALIZER not in finalizers else list(finalizers)
