"""Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it.

Pure: given the Lease as last read and the injected clock, `LeaderElector.propose` says what to
write (acquire, renew) or that another holder's lease is still valid. The adapter writes with the
resourceVersion it read, so two candidates racing for an expired lease cannot both win: the
apiserver rejects the second write with a conflict. A leader that fails to renew within
`renew_deadline_seconds` stops acting even before anyone else takes over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LeaseRecord:
    holder: str | None
    acquire_time: datetime | None
    renew_time: datetime | None
    duration_seconds: int
    transitions: int = 0
    resource_version: str | None = None  # None: the Lease does not exist yet

    def expired(self, now: datetime) -> bool:
        if self.holder is None or self.renew_time is None:
            return True
        return now >= self.renew_time + timedelta(seconds=self.duration_seconds)


@dataclass(frozen=True)
class LeaderConfig:
    identity: str
    lease_duration_seconds: int = 15
    renew_deadline_seconds: float = 10.0
    retry_period_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period_seconds < self.renew_deadline_seconds \
                < self.lease_duration_seconds:
            raise ValueError("leader election needs retry period < renew deadline < lease "
                             "duration")


class LeaderElector:
    def __init__(self, config: LeaderConfig, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.clock = clock
        self._renewed: datetime | None = None

    def propose(self, observed: LeaseRecord | None) -> LeaseRecord | None:
        """The record to write now, or None (someone else holds a valid lease)."""
        now = self.clock()
        me = self.config.identity
        if observed is None:
            return LeaseRecord(me, now, now, self.config.lease_duration_seconds, 0, None)
        if observed.holder == me:
            return replace(observed, renew_time=now,
                           duration_seconds=self.config.lease_duration_seconds)
        if not observed.expired(now):
            return None
        return replace(observed, holder=me, acquire_time=now, renew_time=now,
                       duration_seconds=self.config.lease_duration_seconds,
                       transitions=observed.transitions + 1)

    def written(self, ok: bool) -> None:
        """Tell the elector whether the proposed write succeeded."""
        if ok:
            self._renewed = self.clock()

    def lost(self) -> None:
        self._renewed = None

    def is_leader(self) -> bool:
        if self._renewed is None:
            return False
        age = (self.clock() - self._renewed).total_seconds()
        return age < self.config.renew_deadline_seconds
