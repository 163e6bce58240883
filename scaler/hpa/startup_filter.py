"""The HPA's CPU start-up filter on the twin's homogeneous pods.

Upstream (`groupPods` in replica_calculator.go) leaves a running pod's CPU sample out while the
pod is inside `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min) unless it is ready
and the sample's window began after it became ready; after that period, a pod that never became
ready within `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s) stays out. The twin
only reports counts, so this module keeps the pods of one workload as cohorts (how many became
ready at which second, created how long before) and asks the same `cpu_unready` rule of each.
Scale-downs remove the newest pods first, as the twin and the ReplicaSet do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scaler.hpa.replica_calculator import CalculatorConfig, PodMetric, PodSample, cpu_unready


@dataclass
class ReadyCohorts:
    """Ready pods of one workload, oldest cohort first (mutable: one per HPA)."""

    startup_seconds: float
    cohorts: list[tuple[float, int]] = field(default_factory=list)  # (ready since, pods)

    def update(self, ready: int, ready_since_seconds: float) -> None:
        """Record the ready count seen now; new pods became ready at `ready_since_seconds`."""
        have = sum(n for _, n in self.cohorts)
        if ready > have:
            self.cohorts.append((ready_since_seconds, ready - have))
        drop = have - ready
        while drop > 0 and self.cohorts:
            since, n = self.cohorts.pop()
            if n > drop:
                self.cohorts.append((since, n - drop))
            drop -= n

    def cpu_unready(self, now_seconds: float, sample: PodMetric,
                    config: CalculatorConfig) -> int:
        """How many ready pods the CPU start-up filter leaves out of a sample taken now."""
        out = 0
        for since, n in self.cohorts:
            pod = PodSample("cohort", ready=True, ready_transition_seconds=since,
                            start_seconds=since - self.startup_seconds)
            if cpu_unready(pod, sample, now_seconds, config):
                out += n
        return out
