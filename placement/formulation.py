"""The MILP formulation (see `placement.milp` for the model) as a HiGHS model, and a feasibility
oracle on it that the infeasibility diagnosis (`placement.diagnose`) uses to find culprits.

HiGHS never writes to stdout or stderr (a CLI's error stays one line): the banner it prints when
a process makes its first solver and, with `EDGEWISE_HIGHS_LOG=FILE`, its whole log go to that
file; without it the banner is dropped and the log is off.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import highspy
import numpy as np
from scipy import sparse

from placement.framework import FloatArray, IntArray, Problem


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
class Layout:
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


def _constraints(p: Problem, lay: Layout, *, single_home: bool) -> _Rows:
    x, y, d = lay.x(), lay.y(), lay.d()
    rows, inf = _Rows(), np.inf
    rows.add(x.reshape(-1, lay.n_k), np.ones(lay.n_k), 1.0, 1.0)
    link = np.stack([x[:, :, 1:], np.broadcast_to(y[:, None, :], x[:, :, 1:].shape)], axis=-1)
    rows.add(link.reshape(-1, 2), np.array([1.0, -1.0]), -inf, 0.0)
    rows.add(y, np.ones(lay.n_r), 1.0, 1.0 if single_home else np.inf)
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


def build_model(p: Problem, *, integer: bool, objective: bool = True,
                single_home: bool = True) -> tuple[highspy.HighsLp, Layout]:
    """The HiGHS model; `objective=False` for a pure feasibility question, `single_home=False`
    lets a store use several regions (the home-region rule relaxed)."""
    n_s, n_j, n_k = p.shape
    lay = Layout(n_s, n_j, n_k, len(p.calls))
    rows = _constraints(p, lay, single_home=single_home)
    a = sparse.coo_matrix(
        (np.concatenate(rows.vals), (np.concatenate(rows.rows), np.concatenate(rows.cols))),
        shape=(rows.n_rows, lay.n_cols)).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = lay.n_cols, rows.n_rows
    lp.col_cost_ = (np.concatenate([p.unary.ravel(), np.zeros(n_s * lay.n_r), p.cross.ravel()])
                    if objective else np.zeros(lay.n_cols))
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


def _quiet_highs(log: str | None) -> highspy.Highs:
    """A Highs object made with stdout pointed at the log file (or /dev/null), so the banner
    HiGHS prints when a process makes its first solver reaches neither stdout nor stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(sink, 1)
        return highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)


def run_model(lp: highspy.HighsLp, time_limit_seconds: float) -> highspy.Highs:
    log = os.environ.get("EDGEWISE_HIGHS_LOG")
    h = _quiet_highs(log)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("output_flag", bool(log))
    if log:
        h.setOptionValue("log_file", log)
    h.setOptionValue("time_limit", float(time_limit_seconds))
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    h.run()
    return h


def is_feasible(p: Problem, *, single_home: bool = True, time_limit_seconds: float = 60.0) -> bool:
    """Whether some plan meets every constraint of `p` (HiGHS on the MILP without objective)."""
    lp, _ = build_model(p, integer=True, objective=False, single_home=single_home)
    h = run_model(lp, time_limit_seconds)
    return bool(h.getModelStatus() != highspy.HighsModelStatus.kInfeasible)
