"""Registers `edgewise/Autoscale-v0` and `edgewise/Autoscale-v4` with gymnasium, on import.

Importing `envs` registers nothing (the controller imports `envs.graph` and must not load
gymnasium). To make an env by id, import this module first, the gymnasium 1.x way:
`gymnasium.make("envs.registration:edgewise/Autoscale-v4")`, or `import envs.registration`.
Registering again is harmless.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENV_ENTRY_POINTS = {
    "edgewise/Autoscale-v0": "envs.autoscale:AutoscaleEnv",
    "edgewise/Autoscale-v4": "envs.autoscale_v2:AutoscaleV2Env",
}


def register_envs() -> None:
    for env_id, entry_point in ENV_ENTRY_POINTS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point)


register_envs()
