"""The simulated world: service graph, workload, the twin, and its gymnasium environments."""

from gymnasium.envs.registration import register, registry

if "edgewise/Autoscale-v0" not in registry:
    register(id="edgewise/Autoscale-v0", entry_point="envs.autoscale:AutoscaleEnv")

if "edgewise/Autoscale-v2" not in registry:
    register(id="edgewise/Autoscale-v2", entry_point="envs.autoscale_v2:AutoscaleV2Env")
