"""End-to-end p95 of the slowest call path, whose calls are made with probabilities below one.

A request on a path n_0 -> n_1 -> ... -> n_k goes on to n_{j+1} with the call's probability, so it
stops after n_j with probability q_j = w_j - w_{j+1} (w_j the product of the probabilities down to
n_j, w_{k+1} = 0). Its latency is therefore an exact mixture over j of the sums S_j of the first
j + 1 responses (and network RTTs). Each S_j is a sum of independent responses, fitted by a gamma
with its mean and variance (within ~1% for these shapes). A component is a prefix sum; paths that
share a prefix (every path starts at the entry service) share its component, so a tick evaluates
each distinct prefix once.

The end-to-end p95 is the slowest path's: the largest x with max_p P(L_p > x) = 0.05. Since every
path's tail falls in x, that is one root per tick of the largest tail, found by Newton's method on
log tail(e^u) - log 0.05 in u = log x (the derivative is the mixture density, at almost no extra
cost), started from the one-gamma fit of each path's moments, every step kept inside the bracket
the signs so far give (bisected when it would not halve the step before last, as Numerical
Recipes' rtsafe) and stopped after a step below `U_TOL` (1e-4 in log x; Newton's error after such
a step is of its square, so the tail at the result is 5% to ~1e-6). `PathSolver.BISECTION` is the
solver issue 15 first shipped (per path, bisection in log x from the one-gamma bracket, ~0.05%
from the root, 4-5x the CPU): kept as the reference the tests and `bench/twin_speed.py` compare
against. `SlowestPath.within` is the same mixture's CDF, so the request SLIs (envs/sli.py) and the
p95 agree. tests/envs/test_queueing_ciw.py
checks the result against Ciw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.special import gammaincc, gammaln

from envs.queueing import TAIL, gamma_p95

LOG_TAIL = float(np.log(TAIL))
U_TOL, MAX_STEP, MAX_STEPS = 1e-6, 0.7, 60
HALLEY_DONE = 3e-3  # a Halley step this small leaves an error of the order of its cube
START_BELOW = 0.2  # start x 0.82 under the one-gamma p95: most first steps then prune paths
NEAR, NEAR_HALVINGS = float(np.log(1.3)), 10
WIDEN, FULL_HALVINGS = float(np.log(1.05)), 26


@dataclass(frozen=True)
class PathMixture:
    """The distinct prefix sums (components) of every path: `prefix[s, c]` is 1 when service s is
    in component c, `rtt_seconds[c]` its network time, `weight[p, c]` the chance a request on
    path p stops there (0 when c is not a prefix of p)."""

    prefix: np.ndarray
    rtt_seconds: np.ndarray
    weight: np.ndarray
    # The same, as slots (numpy's matmul is slow at these shapes): `members[c]` the services of
    # c (padded with n_services, a column of zeros), `slots[p]` the components of p and
    # `slot_weight[p]` their weights (padded with 0).
    members: np.ndarray
    slots: np.ndarray
    slot_weight: np.ndarray

    def per_path(self, per_component: np.ndarray) -> np.ndarray:
        """(rows, paths): each path's weighted sum of a (rows, components) array."""
        out: np.ndarray = per_component[:, self.slots[:, 0]] * self.slot_weight[:, 0]
        for k in range(1, self.slots.shape[1]):
            out = out + per_component[:, self.slots[:, k]] * self.slot_weight[:, k]
        return out

    def per_component(self, per_service: np.ndarray) -> np.ndarray:
        """(rows, components): each component's sum of a (rows, services) array."""
        ext = np.concatenate([per_service, np.zeros((len(per_service), 1))], axis=1)
        out: np.ndarray = ext[:, self.members[:, 0]]
        for k in range(1, self.members.shape[1]):
            out = out + ext[:, self.members[:, k]]
        return out


def build_mixture(n_services: int, paths: Sequence[tuple[Sequence[int], Sequence[float],
                                                          Sequence[float]]]) -> PathMixture:
    """From each path's nodes (entry first), the chance a request reaches each node (1 at the
    entry) and the network seconds of the call into each node (0 at the entry)."""
    keys: dict[tuple[tuple[int, ...], float], int] = {}
    stops: list[tuple[int, int, float]] = []
    for p, (nodes, reach, rtt) in enumerate(paths):
        w = [*reach, 0.0]
        for j in range(len(nodes)):
            if w[j] - w[j + 1] > 0:
                key = (tuple(nodes[: j + 1]), float(sum(rtt[: j + 1])))
                stops.append((p, keys.setdefault(key, len(keys)), w[j] - w[j + 1]))
    prefix = np.zeros((n_services, len(keys)))
    rtt_seconds = np.zeros(len(keys))
    for (nodes, seconds), c in keys.items():
        prefix[list(nodes), c] = 1.0
        rtt_seconds[c] = seconds
    weight = np.zeros((len(paths), len(keys)))
    for p, c, q in stops:
        weight[p, c] += q
    members = np.full((len(keys), max(len(n) for n, _ in keys)), n_services)
    for (nodes, _), c in keys.items():
        members[c, : len(nodes)] = nodes
    k = int((weight > 0).sum(axis=1).max())
    slots, slot_weight = np.zeros((len(paths), k), dtype=int), np.zeros((len(paths), k))
    for p in range(len(paths)):
        used = np.flatnonzero(weight[p] > 0)
        slots[p, : len(used)], slot_weight[p, : len(used)] = used, weight[p, used]
    return PathMixture(prefix, rtt_seconds, weight, members, slots, slot_weight)


@dataclass(frozen=True)
class _Fit:
    """Per tick and component: the gamma's mean, variance, shape, scale and log Gamma(shape)."""

    mean: np.ndarray
    var: np.ndarray
    shape: np.ndarray
    scale: np.ndarray
    log_gamma: np.ndarray

    def rows(self, idx: np.ndarray) -> _Fit:
        return _Fit(self.mean[idx], self.var[idx], self.shape[idx], self.scale[idx],
                    self.log_gamma[idx])


def _fit(mix: PathMixture, mean: np.ndarray, var: np.ndarray) -> _Fit:
    m = mix.per_component(mean) + mix.rtt_seconds[None]
    v = np.maximum(mix.per_component(var), 1e-18)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        shape = np.clip(m**2 / v, 0.5, 1e6)
        scale = v / m
    return _Fit(m, v, shape, scale, gammaln(shape))


def _tails(fit: _Fit, mix: PathMixture, x: np.ndarray, alive: np.ndarray | None = None
           ) -> np.ndarray:
    """Per tick and path: P(L_p > x). With `alive` (ticks x paths), only the components of live
    paths are evaluated and every other path's tail is -1."""
    z = x[:, None] / fit.scale
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        if alive is None:
            return mix.per_path(gammaincc(fit.shape, z))
        need = np.zeros(z.shape, dtype=bool)
        for k in range(mix.slots.shape[1]):
            for p in range(len(mix.slots)):
                if mix.slot_weight[p, k] > 0:
                    need[:, mix.slots[p, k]] |= alive[:, p]
        q = np.zeros_like(z)
        q[need] = gammaincc(fit.shape[need], z[need])
    out: np.ndarray = np.where(alive, mix.per_path(q), -1.0)
    return out


def _slopes(fit: _Fit, mix: PathMixture, x: np.ndarray, path: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """For path `path[i]` of row i: -d tail/du and -d^2 tail/du^2 at u = log x (the mixture's
    x f(x) and its u-derivative, from each gamma's x f(x) = z^a e^-z / Gamma(a))."""
    comp, w = mix.slots[path], mix.slot_weight[path]
    r = np.arange(len(x))[:, None]
    shape, z = fit.shape[r, comp], x[:, None] / fit.scale[r, comp]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        xf = w * np.nan_to_num(np.exp(shape * np.log(z) - z - fit.log_gamma[r, comp]))
    return xf.sum(axis=1), (xf * (shape - z)).sum(axis=1)


def _one_gamma_start(fit: _Fit, mix: PathMixture) -> np.ndarray:
    """log of the largest path p95 by one gamma on each path's moments (-16% .. +8.5% off)."""
    mean_p = mix.per_path(fit.mean)
    spread = mix.per_path(fit.var + fit.mean**2) - mean_p**2
    with np.errstate(invalid="ignore"):
        start = gamma_p95(mean_p, np.maximum(spread, 1e-18)).max(axis=1)
    out: np.ndarray = np.log(np.clip(np.nan_to_num(start, nan=1.0, posinf=1.0), 1e-9, 1e9))
    return out


_SEARCH_FIELDS = ("u", "lo", "hi", "last", "before", "alive")


@dataclass
class _Search:
    """Per row: the iterate u = log x, the bracket the tail's signs give, and the last two
    step sizes (for the safeguard)."""

    u: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    last: np.ndarray
    before: np.ndarray
    alive: np.ndarray  # (rows, paths): paths whose own p95 may still be above lo

    def rows(self, idx: np.ndarray) -> _Search:
        return _Search(self.u[idx], self.lo[idx], self.hi[idx], self.last[idx], self.before[idx],
                       self.alive[idx])

    def unless(self, keep: np.ndarray, old: _Search) -> _Search:
        """This state, but `old` on the rows `keep`."""
        return _Search(*(np.where(keep[:, None] if f == "alive" else keep, getattr(old, f),
                                  getattr(self, f)) for f in _SEARCH_FIELDS))

    def put(self, idx: np.ndarray, part: _Search) -> None:
        for f in _SEARCH_FIELDS:
            getattr(self, f)[idx] = getattr(part, f)


def _halley_step(fit: _Fit, mix: PathMixture, s: _Search) -> tuple[_Search, np.ndarray]:
    """One safeguarded step for every row on h(u) = log tail(e^u) - log 0.05 of the slowest path
    (Halley's, cubic; Numerical Recipes' rtsafe guard: kept while it stays in the bracket and at
    least halves the step before last, else bisect); and which rows are done. Once u is below
    the root, a path whose tail there is at most 5% has its own p95 below u, so it can no longer
    be the slowest: later steps skip its components."""
    x = np.exp(s.u)
    tail = _tails(fit, mix, x, None if s.alive.all() else s.alive)
    best = tail.argmax(axis=1)
    r = np.arange(len(s.u))
    t = tail[r, best]
    d1, d2 = _slopes(fit, mix, x, best)
    up = t > TAIL  # the root is above u
    alive = np.where(up[:, None], s.alive & (tail > TAIL), s.alive)
    lo, hi = np.where(up, s.u, s.lo), np.where(up, s.hi, s.u)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h, g1 = np.log(t) - LOG_TAIL, -d1 / t
        g2 = -d2 / t - g1**2
        step = -2.0 * h * g1 / (2.0 * g1**2 - h * g2)
        newton = -h / g1
        step = np.where(np.isfinite(step) & (step * newton > 0), step, newton)
    step = np.clip(np.where(np.isfinite(step), step, np.where(up, MAX_STEP, -MAX_STEP)),
                   -MAX_STEP, MAX_STEP)
    new = s.u + step
    bounded = np.isfinite(lo) & np.isfinite(hi)
    bisect = bounded & ((new <= lo) | (new >= hi) | (2.0 * np.abs(step) > np.abs(s.before)))
    new = np.where(bisect, 0.5 * (lo + hi), new)
    moved = np.abs(new - s.u)
    done = np.where(bisect, hi - lo < U_TOL, moved < HALLEY_DONE)
    return _Search(new, lo, hi, moved, s.last, alive), done


def _halley_p95(fit: _Fit, mix: PathMixture) -> np.ndarray:
    n = len(fit.mean)
    inf = np.full(n, np.inf)
    search = _Search(_one_gamma_start(fit, mix) - START_BELOW, -inf, inf.copy(), inf.copy(),
                     inf.copy(), np.ones((n, len(mix.slots)), dtype=bool))
    todo = np.arange(n)
    part, state = fit, search
    finished = np.zeros(n, dtype=bool)
    for _ in range(MAX_STEPS):
        stepped, done = _halley_step(part, mix, state)
        state = stepped.unless(finished, state)  # a row already done stays where it is
        search.put(todo, state)
        finished |= done
        if finished.all():
            break
        if finished.mean() > 0.5:  # compact the rows still searching (copies: worth it when few)
            keep = np.flatnonzero(~finished)
            todo, state, finished = todo[keep], state.rows(keep), finished[keep]
            part = fit.rows(todo)
    out: np.ndarray = np.exp(search.u)
    return out


class PathSolver(StrEnum):
    NEWTON = "newton"  # the twin's: safeguarded Newton on the slowest path's tail, ~1e-6
    BISECTION = "bisection"  # the reference: issue 15's first, per-path bisection, ~0.05%


class SlowestPath:
    """The latency of the slowest call path per tick, from per-service response moments (s,
    s^2; ticks x services): its p95 and the share of requests within a bound, one model."""

    def __init__(self, mix: PathMixture, mean: np.ndarray, var: np.ndarray) -> None:
        self.mix = mix
        self.fit = _fit(mix, mean, var)
        self.finite = np.isfinite(self.fit.mean).all(axis=1)

    def p95(self, solver: PathSolver = PathSolver.NEWTON) -> np.ndarray:
        """Per tick: the p95 (s)."""
        if solver is PathSolver.BISECTION:
            x = _bisection_p95(self.fit, self.mix.weight)
        else:
            x = _halley_p95(self.fit, self.mix)
        out: np.ndarray = np.where(self.finite, x, np.inf)
        return out

    def within(self, x_seconds: float) -> np.ndarray:
        """Per tick: the share of requests whose slowest path takes at most `x_seconds` (the
        mixture's CDF, the model `p95` inverts)."""
        n = len(self.fit.mean)
        if x_seconds <= 0:
            return np.zeros(n)
        tail = _tails(self.fit, self.mix, np.full(n, float(x_seconds)))
        out: np.ndarray = 1.0 - np.clip(np.nan_to_num(tail, nan=1.0), 0.0, 1.0).max(axis=1)
        return np.where(self.finite, out, 0.0)


def _bisect(shape: np.ndarray, scale: np.ndarray, w: np.ndarray, lo: np.ndarray,
            hi: np.ndarray, halvings: int) -> np.ndarray:
    for _ in range(halvings):
        mid = 0.5 * (lo + hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            tail = (w * np.nan_to_num(gammaincc(shape, np.exp(mid)[:, None] / scale))).sum(1)
        further = tail > TAIL
        lo, hi = np.where(further, mid, lo), np.where(further, hi, mid)
    return hi  # the upper end: conservative


def _bisection_p95(fit: _Fit, weight: np.ndarray) -> np.ndarray:
    """The reference: every path's p95 by bisection from its one-gamma bracket (x 1/1.3 .. 1.3,
    10 halvings) or, where that does not bracket it, from its component p95s widened by 5% (26
    halvings); the slowest path's per tick. Issue 15's first solver, ~0.05% from the root."""
    n_t, n_p = len(fit.mean), weight.shape[0]
    k = int((weight > 0).sum(axis=1).max())
    comp = np.zeros((n_p, k), dtype=int)
    w = np.zeros((n_p, k))
    for p in range(n_p):
        used = np.flatnonzero(weight[p] > 0)
        comp[p, : len(used)], w[p, : len(used)] = used, weight[p, used]

    def per_path(a: np.ndarray) -> np.ndarray:
        out: np.ndarray = a[:, comp].reshape(n_t * n_p, k)
        return out

    shape, scale, m, v = (per_path(a) for a in (fit.shape, fit.scale, fit.mean, fit.var))
    ww = np.broadcast_to(w[None], (n_t, n_p, k)).reshape(-1, k)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        own = np.log(np.maximum(gamma_p95(m, v), 1e-9))
        mean_all = (ww * m).sum(axis=1)
        spread = (ww * (v + m**2)).sum(axis=1) - mean_all**2
        start = np.log(np.maximum(gamma_p95(mean_all, np.maximum(spread, 1e-18)), 1e-9))
        lo_tail = (ww * gammaincc(shape, np.exp(start - NEAR)[:, None] / scale)).sum(1)
        hi_tail = (ww * gammaincc(shape, np.exp(start + NEAR)[:, None] / scale)).sum(1)
    near = np.flatnonzero((lo_tail > TAIL) & (hi_tail <= TAIL))
    far = np.setdiff1d(np.arange(len(start)), near)
    u = np.zeros(len(start))
    u[near] = _bisect(shape[near], scale[near], ww[near], start[near] - NEAR,
                      start[near] + NEAR, NEAR_HALVINGS)
    stops = ww[far] > 0
    u[far] = _bisect(shape[far], scale[far], ww[far],
                     np.where(stops, own[far], np.inf).min(axis=1) - WIDEN,
                     np.where(stops, own[far], -np.inf).max(axis=1) + WIDEN, FULL_HALVINGS)
    out: np.ndarray = np.exp(u).reshape(n_t, n_p).max(axis=1)
    return out
