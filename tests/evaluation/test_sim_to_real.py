import dataclasses

import numpy as np
import pytest
from scipy.stats import gamma

from envs.outcome import tick_metrics
from envs.queueing import response_time
from evaluation import contention as con
from evaluation import sim_to_real as s2r


@pytest.mark.parametrize("rate, servers, mu", [(5.0, 1, 20.0), (30.0, 2, 25.0), (1.0, 4, 3.0)])
def test_fit_service_rate_inverts_the_mmc_mean(rate: float, servers: int, mu: float) -> None:
    mean = response_time(np.array([float(servers)]), np.array([rate]), np.array([mu]),
                         p95=False).mean[0]
    assert s2r.fit_service_rate(rate, servers, float(mean)) == pytest.approx(mu, rel=1e-6)


def test_fit_service_rate_refuses_a_non_positive_mean() -> None:
    with pytest.raises(ValueError, match="work_mean_seconds"):
        s2r.fit_service_rate(1.0, 1, 0.0)


def test_mixture_p95_matches_sampling() -> None:
    rng = np.random.default_rng(0)
    means, variances = np.array([0.05, 0.2]), np.array([0.0005, 0.02])
    weights = np.array([3.0, 1.0])
    shape, scale = means**2 / variances, variances / means
    n = 400_000
    pick = rng.random(n) < 0.25
    x = np.where(pick, gamma.rvs(shape[1], scale=scale[1], size=n, random_state=rng),
                 gamma.rvs(shape[0], scale=scale[0], size=n, random_state=rng))
    assert s2r.mixture_p95(means, variances, weights) == pytest.approx(np.quantile(x, 0.95),
                                                                       rel=0.01)
    assert np.isnan(s2r.mixture_p95(means, variances, np.zeros(2)))


def _measured(startup: float = 4.0) -> tuple[s2r.ServiceMeasurement, ...]:
    return (s2r.ServiceMeasurement("frontend", ("checkout",), 10.0, 1, 1, 0.006, 0.0057, 0.005,
                                   startup, 250),
            s2r.ServiceMeasurement("checkout", (), 10.0, 1, 1, 0.02, 0.0167, 0.014, startup,
                                   250))


def test_a_constant_replay_agrees_with_the_twins_own_p95() -> None:
    graph = s2r.graph_from(_measured(), entry="frontend")
    config = s2r.twin_config(graph, 3.0)
    ticks = 120
    rep = s2r.replay(config, np.full(ticks, 20.0), np.ones((ticks, 2), dtype=int),
                     np.ones(2, dtype=int))
    p95 = rep.window_p95_seconds(60)
    assert len(p95) == 2 and p95[0] == pytest.approx(p95[1])
    own = tick_metrics(config, rep.entry_rps[:1, None] * config.visit_ratios[None],
                       rep.trajectory.tick(0)).e2e_p95_ms[0]
    assert p95[0] * 1000 == pytest.approx(own, rel=0.02)  # gamma exact vs Wilson-Hilferty
    per_service = rep.service_window_p95_seconds(60)
    assert per_service.shape == (2, 2) and (per_service[0] < p95[0]).all()


def test_overhead_is_the_end_to_end_mean_beyond_the_services() -> None:
    measured = _measured()
    config = s2r.twin_config(s2r.graph_from(measured, entry="frontend"), 0.0)
    # the fitted services reproduce their measured means, so the rest is overhead
    assert s2r.overhead_ms(config, measured, 0.006 + 0.02 + 0.004) == pytest.approx(4.0,
                                                                                  abs=1e-3)
    assert s2r.overhead_ms(config, measured, 0.001) == 0.0


def test_scale_ups_delay_ready_replicas_by_the_startup() -> None:
    graph = s2r.graph_from(_measured(startup=4.2), entry="frontend")
    config = s2r.twin_config(graph, 0.0)
    desired = np.ones((30, 2), dtype=int)
    desired[10:, 1] = 3
    rep = s2r.replay(config, np.full(30, 20.0), desired, np.ones(2, dtype=int))
    ready = rep.trajectory.ready[:, 1]
    assert ready[14] == 1 and ready[15] == 3  # ceil(4.2 s) = 5 one-second ticks


def test_step_series_and_scale_up_delays() -> None:
    s = s2r.step_series(np.array([1.5, 3.0]), np.array([2, 1]), 5, 1.0, before=1)
    assert s.tolist() == [1, 1, 2, 1, 1]
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    desired = np.array([1, 2, 2, 2, 3, 1, 1, 1])
    ready = np.array([1, 1, 1, 2, 2, 2, 1, 1])
    # 1 -> 2 at t=1 is ready at t=3; 2 -> 3 at t=4 is overtaken (back to 1) before it is ready
    assert s2r.scale_up_delays(t, desired, ready) == [(1.0, 2.0)]


def test_relative_errors_skip_missing_windows() -> None:
    e = s2r.relative_errors(np.array([1.1, 2.0, np.nan]), np.array([1.0, np.nan, 3.0]))
    assert e.tolist() == pytest.approx([0.1])


def _at(measured: tuple[s2r.ServiceMeasurement, ...], rate: float, replicas: int,
        base: dict[str, float], cores: float, visits: dict[str, float]
        ) -> tuple[s2r.ServiceMeasurement, ...]:
    """What a node with `cores` for the app shows: service times stretched by the demand."""
    demand = con.demand_cores(measured, rate, visits)
    out = []
    for m in measured:
        mu = 1.0 / (base[m.name] / (1.0 - demand / cores))
        mean = response_time(np.array([float(replicas)]), np.array([rate]), np.array([mu]),
                             p95=False).mean[0]
        out.append(s2r.ServiceMeasurement(m.name, m.calls, rate, replicas, 1, float(mean),
                                          1.0 / mu, m.cpu_seconds_per_request, 3.0, 250))
    return tuple(out)


def test_contention_curve_recovers_the_cores_and_idle_service_times() -> None:
    measured = _measured()
    visits = {"frontend": 1.0, "checkout": 1.0}
    base = {"frontend": 0.004, "checkout": 0.012}
    low = _at(measured, 5.0, 1, base, 1.2, visits)
    high = _at(measured, 30.0, 2, base, 1.2, visits)
    curve = con.fit_contention([low, high], visits, "frontend")
    assert curve.cores == pytest.approx(1.2, rel=1e-4)
    assert curve.base_seconds["checkout"] == pytest.approx(0.012, rel=1e-4)
    assert curve.stretch(0.6) == pytest.approx(2.0, rel=1e-4)
    assert curve.stretch(5.0) == curve.max_stretch
    flat = con.fit_contention([low, low], visits, "frontend")
    assert flat.cores == float("inf") and flat.stretch(10.0) == 1.0


def test_contended_replay_is_slower_where_the_demand_is_higher() -> None:
    measured = _measured()
    visits = {"frontend": 1.0, "checkout": 1.0}
    curve = con.ContentionCurve({"frontend": 0.004, "checkout": 0.012}, 1.0)
    entry = np.concatenate([np.full(60, 5.0), np.full(60, 30.0)])
    ones = np.ones((120, 2), dtype=int)
    flat = s2r.Overhead(0.002, 0.0)
    extra = con.OverheadCurve(((0.0, flat),))  # one point: stretched with the CPU work
    p95 = con.replay_contended(measured, curve, "frontend", extra, entry, ones,
                               np.ones(2, dtype=int), 60)
    idle = con.replay_contended(measured, con.ContentionCurve(curve.base_seconds, float("inf")),
                                "frontend", extra, entry, ones, np.ones(2, dtype=int), 60)
    assert p95[1] > idle[1] * 1.5 and p95[0] > idle[0]
    assert con.demand_cores(measured, 30.0, visits) == pytest.approx(30 * 0.019)


def test_a_backlog_from_an_overloaded_minute_drains_over_the_next() -> None:
    measured = _measured()
    curve = con.ContentionCurve({"frontend": 0.004, "checkout": 0.012}, 1.0)
    ones, flat = np.ones((120, 2), dtype=int), s2r.Overhead(0.002, 0.0)
    extra = con.OverheadCurve(((0.0, flat),))
    quiet = np.full(120, 5.0)
    # 45 rps: 0.86 cores of demand stretch checkout's 12 ms to 83 ms (12 rps, overloaded);
    # at 5 rps it serves 75 rps, so the minute after drains the ~2,000 queued over ~28 s
    overloaded = np.concatenate([np.full(60, 45.0), quiet[60:]])
    after = con.replay_contended(measured, curve, "frontend", extra, overloaded, ones,
                                 np.ones(2, dtype=int), 60)
    calm = con.replay_contended(measured, curve, "frontend", extra, quiet, ones,
                                np.ones(2, dtype=int), 60)
    assert calm[1] < 0.1 and after[1] > 10 * calm[1]
    assert after[0] > after[1]


def test_overhead_curve_meets_both_calibration_fits_and_stretches_beyond() -> None:
    curve = con.ContentionCurve({"frontend": 0.004}, 2.0)
    low, high = s2r.Overhead(0.01, 0.0001), s2r.Overhead(0.03, 0.0009)
    oc = con.OverheadCurve(((0.5, low), (1.5, high)))
    assert oc.at(0.5, curve) == low and oc.at(1.5, curve) == high
    mid = oc.at(1.0, curve)  # halfway: mean and sd halfway
    assert mid.mean_seconds == pytest.approx(0.02) and mid.var_seconds2 == pytest.approx(0.02**2)
    # below the low load and above the high one: that point's overhead, stretched
    assert oc.at(0.0, curve).mean_seconds == pytest.approx(0.01 * (1 - 0.5 / 2))
    assert oc.at(1.8, curve).mean_seconds == pytest.approx(0.03 * (1 - 1.5 / 2) / (1 - 1.8 / 2))


def test_overhead_matches_the_calibration_mean_and_p95() -> None:
    measured = _measured()
    config = s2r.twin_config(s2r.graph_from(measured, entry="frontend"), 0.0)
    services = 0.006 + 0.02  # the fitted services reproduce their measured means
    rep = s2r.replay(config, np.full(60, 10.0), np.ones((60, 2), dtype=int),
                     np.ones(2, dtype=int))
    worst = int(rep.path_mean[0].argmax())  # the steady calibration load's slowest path
    p_mean, p_var = float(rep.path_mean[0, worst]), float(rep.path_var[0, worst])

    def p95(o: s2r.Overhead) -> float:
        return s2r.mixture_p95(np.full(60, p_mean + o.mean_seconds),
                               np.full(60, p_var + o.var_seconds2), np.full(60, 10.0))

    fit = s2r.overhead_beyond(p_mean, p_var, services + 0.01, 0.1)
    assert fit.mean_seconds == pytest.approx(0.01, abs=1e-6) and fit.var_seconds2 > 0
    assert p95(fit) == pytest.approx(0.1, rel=1e-3)
    assert p95(fit.scaled(2.0)) > 0.15
    # a p95 beyond what a gamma of that mean reaches: the widest one (shape 0.5)
    wide = s2r.overhead_beyond(p_mean, p_var, services + 0.01, 5.0)
    assert wide.var_seconds2 > fit.var_seconds2
    tight = s2r.overhead_beyond(p_mean, p_var, services + 0.01, 0.001)  # below the services'
    assert tight.var_seconds2 == 0.0


def _queued(measured: tuple[s2r.ServiceMeasurement, ...], rate: float, replicas: int,
            service: dict[str, float], scale: dict[str, float]
            ) -> tuple[s2r.ServiceMeasurement, ...]:
    """What replicas whose waits are `scale` times M/M/c's show at a load."""
    out = []
    for m in measured:
        s = service[m.name]
        mmc = response_time(np.array([float(replicas)]), np.array([rate]), np.array([1 / s]),
                            p95=False).mean[0] - s
        out.append(s2r.ServiceMeasurement(m.name, m.calls, rate, replicas, 1,
                                          s + scale[m.name] * float(mmc), s,
                                          m.cpu_seconds_per_request, 3.0, 250))
    return tuple(out)


def test_wait_scale_is_the_measured_wait_over_the_mmc_wait() -> None:
    measured = _measured()
    service = {"frontend": 0.004, "checkout": 0.015}
    scale = {"frontend": 1.0, "checkout": 2.5}
    loads = [_queued(measured, r, k, service, scale) for r, k in ((10.0, 1), (40.0, 1),
                                                                  (90.0, 2))]
    fit = con.fit_wait_scale(loads)
    assert fit.at("checkout", 1) == pytest.approx(2.5, rel=1e-9)
    assert fit.at("checkout", 2) == pytest.approx(2.5, rel=1e-9)
    assert fit.at("frontend", 1) == pytest.approx(1.0, rel=1e-9)
    # no load that queues measurably: M/M/c
    assert con.fit_wait_scale([_queued(measured, 0.5, 1, service, scale)]).at("checkout", 1) \
        == 1.0
    # a saturated load (utilisation >= 0.98) says nothing about the wait
    assert con.wait_terms(dataclasses.replace(loads[0][1], rate_rps=66.0)) is None
    huge = {"frontend": 1.0, "checkout": 50.0}
    assert con.fit_wait_scale([_queued(measured, 40.0, 1, service, huge)]).at("checkout", 1) \
        == con.WAIT_SCALE_BOUNDS[1]


def test_wait_scale_is_measured_per_replica_count() -> None:
    measured = _measured()
    service = {"frontend": 0.004, "checkout": 0.015}
    one, two = {"frontend": 1.0, "checkout": 1.5}, {"frontend": 1.0, "checkout": 3.0}
    fit = con.fit_wait_scale([_queued(measured, 40.0, 1, service, one),
                              _queued(measured, 90.0, 2, service, two)])
    assert fit.at("checkout", 1) == pytest.approx(1.5) and fit.at("checkout", 2) == \
        pytest.approx(3.0)
    assert fit.at("checkout", 4) == pytest.approx(3.0)  # the nearest measured count
    assert fit.at("nobody", 1) == 1.0
    ready = np.array([[1, 1], [1, 2], [1, 3]])
    assert fit.array(("frontend", "checkout"), ready)[:, 1] == pytest.approx([1.5, 3.0, 3.0])


def test_scaled_waits_lengthen_the_wait_alone() -> None:
    measured = _measured()
    curve = con.ContentionCurve({"frontend": 0.004, "checkout": 0.012}, float("inf"))
    ones = np.ones((1, 2), dtype=int)
    rate = np.array([50.0])  # checkout at utilisation 0.6 on one replica
    plain = con.run_contended(measured, curve, "frontend", rate, ones, ones[0])
    same = con.run_contended(measured, curve, "frontend", rate, ones, ones[0],
                             con.WaitScale({"frontend": {1: 1.0}, "checkout": {1: 1.0}}))
    assert same.path_mean == pytest.approx(plain.path_mean)
    doubled = con.run_contended(measured, curve, "frontend", rate, ones, ones[0],
                                con.WaitScale({"checkout": {1: 2.0, 2: 5.0}}))
    wait = 0.6 * 0.012 / (1 - 0.6)  # M/M/1 mean wait
    assert doubled.path_mean[0] - plain.path_mean[0] == pytest.approx(wait, rel=1e-6)
    # Var(S + 2W) - Var(S + W) = 3 Var(W), Var(W) = rho (2 - rho) / theta^2 for M/M/1
    theta = 1 / 0.012 - 50.0
    assert doubled.path_var[0] - plain.path_var[0] == pytest.approx(
        3 * 0.6 * 1.4 / theta**2, rel=1e-6)


def test_contention_fit_over_three_loads() -> None:
    measured = _measured()
    visits = {"frontend": 1.0, "checkout": 1.0}
    base = {"frontend": 0.004, "checkout": 0.012}
    loads = [_at(measured, r, k, base, 1.5, visits) for r, k in ((5.0, 1), (20.0, 1),
                                                                  (40.0, 2))]
    curve = con.fit_contention(loads, visits, "frontend")
    assert curve.cores == pytest.approx(1.5, rel=1e-6)
    assert curve.base_seconds["frontend"] == pytest.approx(0.004, rel=1e-6)


def test_overhead_curve_interpolates_between_three_loads() -> None:
    curve = con.ContentionCurve({"frontend": 0.004}, 2.0)
    a, b, c = (s2r.Overhead(x, (x / 2) ** 2) for x in (0.01, 0.02, 0.06))
    oc = con.OverheadCurve(((1.5, c), (0.5, a), (1.0, b)))  # any order
    assert oc.at(0.75, curve).mean_seconds == pytest.approx(0.015)
    assert oc.at(1.25, curve).mean_seconds == pytest.approx(0.04)
    assert oc.at(1.25, curve).var_seconds2 == pytest.approx(0.02**2)


def test_the_replay_reproduces_every_calibration_load() -> None:
    """The overhead fitted at each load against the replay's own call path: a constant replay at
    a calibration load's rate and replicas gives that load's measured end-to-end p95."""
    measured = _measured()
    visits = {"frontend": 1.0, "checkout": 1.0}
    base = {"frontend": 0.004, "checkout": 0.012}
    service = {"frontend": 0.005, "checkout": 0.016}
    scale = {"frontend": 1.0, "checkout": 2.0}
    loads = [con.CalibrationLoad(_queued(_at(measured, r, k, base, 1.5, visits), r, k,
                                         service, scale), mean, p95)
             for r, k, mean, p95 in ((5.0, 1, 0.03, 0.09), (20.0, 1, 0.05, 0.15),
                                     (40.0, 2, 0.09, 0.3))]
    curve = con.fit_contention([x.services for x in loads], visits, "frontend")
    wait = con.fit_wait_scale([x.services for x in loads])
    oc = con.fit_overhead_curve(loads[0].services, curve, "frontend", loads, wait)
    assert len(oc.points) == 3 and all(o.var_seconds2 > 0 for _, o in oc.points)
    for load in loads:
        k = load.services[0].replicas
        reps = np.full((60, 2), k, dtype=int)
        p95 = con.replay_contended(loads[0].services, curve, "frontend", oc,
                                   np.full(60, load.services[0].rate_rps), reps, reps[0], 60,
                                   wait)
        assert p95[0] == pytest.approx(load.e2e_p95_seconds, rel=1e-3)
