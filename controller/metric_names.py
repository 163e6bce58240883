"""Every exported metric name, spelled once (the `edgewise_` prefix, base units, `_total` on
counters).

The per-service names are a contract: a workload (or `edgewise replay`) exposes them and the
controller's direct scrape (`controller/scrape.py`) and default PromQL read them.
"""

from __future__ import annotations

# Per-service signals a workload exposes, labelled by `service`
SERVICE_RATE = "edgewise_service_requests_per_second"
SERVICE_CPU = "edgewise_service_cpu_utilization_ratio"
SERVICE_P95 = "edgewise_service_p95_latency_seconds"
SERVICE_READY = "edgewise_service_ready_replicas"
SERVICE_DESIRED = "edgewise_service_desired_replicas"

# The live replay world
REPLAY_TICK = "edgewise_replay_tick"
REPLAY_SIM_TIME = "edgewise_replay_sim_time_seconds"

# The controller's own
RECONCILE_DURATION = "edgewise_reconcile_duration_seconds"
RECONCILE_ERRORS = "edgewise_reconcile_errors_total"
DECISIONS = "edgewise_decisions_total"
DESIRED_REPLICAS = "edgewise_desired_replicas"
FORECAST_RATE = "edgewise_forecast_requests_per_second"  # also in a twin run's export
FALLBACK_ACTIVE = "edgewise_fallback_active"
FALLBACK_PERIODS = "edgewise_fallback_periods_total"
LEADER = "edgewise_leader"
PERIODS = "edgewise_periods_total"
WATCH_RESTARTS = "edgewise_watch_restarts_total"
