"""The exact solver: one mixed-integer program solved by HiGHS (highspy), and its LP bound.

Variables, per store s:
    x[s, j, k] in {0, 1}   service j runs on site k (0 = the store, 1 + r = region r)
    y[s, r]    in {0, 1}   region r is the store's home region
    d[s, e, r] in [0, 1]   call e crosses the WAN to region r (one end local, the other in r)
Minimise  sum unary[s, j, k] x[s, j, k] + sum cross[s, e, r] d[s, e, r]
subject to
    sum_k x[s, j, k] = 1;  x[s, j, 1 + r] <= y[s, r];  sum_r y[s, r] = 1
    d[s, e, r] >= |x[s, caller, 1 + r] - x[s, callee, 1 + r]|       (both rows)
    sum_j cpu[s, j] x[s, j, 0] <= cpu capacity (and memory, GPUs)
    sum_e mbps[s, e] sum_r d[s, e, r] <= usable WAN bandwidth
    x[s, k, 0] >= x[s, j, 0] for offline j and every k it reaches      (offline closure)
    x[s, j, k] = 0 where a Filter plugin ruled site k out
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
from scipy import sparse

from placement.diagnose import diagnose_infeasible, precheck
from placement.errors import InfeasibleError, SolverError
from placement.framework import FloatArray, IntArray, Problem
from placement.plan import Plan, SolverKind


@dataclass
class _Rows:
    """Sparse constraint rows gathered as COO triplets."""

    n_rows: int = 0
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    vals: list[FloatArray] = field(default_factory=list)
    lower: list[FloatArray] = field(default_factory=list)
    upper: list[FloatArray] = field(default_factory=list)

    def add(self, cols: IntArray, vals: FloatArray, lower: float, upper: float) -> None:
        """One row per leading index of `cols` (shape (n, terms))."""
        n, terms = cols.shape
        self.rows.append(np.repeat(np.arange(self.n_rows, self.n_rows + n), terms))
        self.cols.append(cols.ravel())
        self.vals.append(np.broadcast_to(vals, cols.shape).ravel().astype(float))
        self.lower.append(np.full(n, lower))
        self.upper.append(np.full(n, upper))
        self.n_rows += n


@dataclass(frozen=True)
class _Layout:
    n_s: int
    n_j: int
    n_k: int
    n_e: int

    @property
    def n_r(self) -> int:
        return self.n_k - 1

    @property
    def n_x(self) -> int:
        return self.n_s * self.n_j * self.n_k

    @property
    def n_cols(self) -> int:
        return self.n_x + self.n_s * self.n_r + self.n_s * self.n_e * self.n_r

    def x(self) -> IntArray:
        return np.arange(self.n_x).reshape(self.n_s, self.n_j, self.n_k)

    def y(self) -> IntArray:
        return self.n_x + np.arange(self.n_s * self.n_r).reshape(self.n_s, self.n_r)

    def d(self) -> IntArray:
        start = self.n_x + self.n_s * self.n_r
        return start + np.arange(self.n_s * self.n_e * self.n_r).reshape(
            self.n_s, self.n_e, self.n_r)


def _constraints(p: Problem, lay: _Layout) -> _Rows:
    x, y, d = lay.x(), lay.y(), lay.d()
    rows, inf = _Rows(), np.inf
    rows.add(x.reshape(-1, lay.n_k), np.ones(lay.n_k), 1.0, 1.0)
    link = np.stack([x[:, :, 1:], np.broadcast_to(y[:, None, :], x[:, :, 1:].shape)], axis=-1)
    rows.add(link.reshape(-1, 2), np.array([1.0, -1.0]), -inf, 0.0)
    rows.add(y, np.ones(lay.n_r), 1.0, 1.0)
    if lay.n_e:
        xa = x[:, p.calls[:, 0], 1:]
        xb = x[:, p.calls[:, 1], 1:]
        for first, second in ((xa, xb), (xb, xa)):
            cols = np.stack([d, first, second], axis=-1).reshape(-1, 3)
            rows.add(cols, np.array([1.0, -1.0, 1.0]), 0.0, inf)
        rows.add(d.reshape(lay.n_s, -1), np.repeat(p.call_mbps, lay.n_r, axis=1), -inf, 0.0)
        _set_upper(rows, p.bandwidth_mbps)
    for need, cap in ((p.cpu_millicores, p.cpu_capacity), (p.memory_mib, p.memory_capacity),
                      (np.broadcast_to(p.gpus, x.shape[:2]), p.gpu_capacity)):
        rows.add(x[:, :, 0], need, -inf, 0.0)
        _set_upper(rows, cap)
    if len(p.closure):
        cols = np.stack([x[:, p.closure[:, 1], 0], x[:, p.closure[:, 0], 0]], axis=-1)
        rows.add(cols.reshape(-1, 2), np.array([1.0, -1.0]), 0.0, inf)
    return rows


def _set_upper(rows: _Rows, upper: FloatArray) -> None:
    rows.upper[-1] = np.asarray(upper, dtype=float)


def _model(p: Problem, *, integer: bool) -> tuple[highspy.HighsLp, _Layout]:
    n_s, n_j, n_k = p.shape
    lay = _Layout(n_s, n_j, n_k, len(p.calls))
    rows = _constraints(p, lay)
    a = sparse.coo_matrix(
        (np.concatenate(rows.vals), (np.concatenate(rows.rows), np.concatenate(rows.cols))),
        shape=(rows.n_rows, lay.n_cols)).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = lay.n_cols, rows.n_rows
    lp.col_cost_ = np.concatenate([p.unary.ravel(), np.zeros(n_s * lay.n_r), p.cross.ravel()])
    lp.col_lower_ = np.zeros(lay.n_cols)
    lp.col_upper_ = np.concatenate([p.allowed.ravel().astype(float),
                                    np.ones(lay.n_cols - lay.n_x)])
    lp.row_lower_ = np.concatenate(rows.lower)
    lp.row_upper_ = np.concatenate(rows.upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    if integer:
        n_int = lay.n_x + n_s * lay.n_r
        lp.integrality_ = ([highspy.HighsVarType.kInteger] * n_int +
                           [highspy.HighsVarType.kContinuous] * (lay.n_cols - n_int))
    return lp, lay


def _run(lp: highspy.HighsLp, time_limit_seconds: float) -> highspy.Highs:
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_seconds))
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    h.run()
    return h


def lp_bound(p: Problem, *, time_limit_seconds: float = 60.0) -> float:
    """The LP relaxation's optimum: a lower bound on every plan's cost."""
    lp, _ = _model(p, integer=False)
    h = _run(lp, time_limit_seconds)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise InfeasibleError("the LP relaxation is infeasible")
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"HiGHS LP ended with status {h.modelStatusToString(status)}")
    return float(h.getInfo().objective_function_value)


def solve_milp(p: Problem, *, time_limit_seconds: float = 60.0) -> Plan:
    """The cost-optimal plan (within HiGHS's 1e-6 relative gap)."""
    precheck(p)
    start = time.perf_counter()
    lp, lay = _model(p, integer=True)
    h = _run(lp, time_limit_seconds)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise InfeasibleError(diagnose_infeasible(p))
    info = h.getInfo()
    if info.primal_solution_status != 2:  # no feasible point
        raise SolverError(f"HiGHS found no plan: {h.modelStatusToString(status)}")
    col = np.asarray(h.getSolution().col_value)
    site = col[lay.x()].argmax(axis=2).astype(np.int64)
    home = col[lay.y()].argmax(axis=1).astype(np.int64) if lay.n_r else np.zeros(
        lay.n_s, dtype=np.int64)
    return Plan(p, site, home, SolverKind.MILP, optimal=status == highspy.HighsModelStatus.kOptimal,
                lower_bound_usd_per_hour=float(info.mip_dual_bound),
                seconds=time.perf_counter() - start)
