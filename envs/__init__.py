"""The simulated world: service graph, workload, the twin, and its gymnasium environments."""

from gymnasium.envs.registration import register, registry

if "edgewise/Autoscale-v0" not in registry:
    register(id="edgewise/Autoscale-v0", entry_point="envs.autoscale:AutoscaleEnv")
