"""The simulated world: service graph, workload, the twin, and its gymnasium environments.

Importing this package registers nothing (the controller imports `envs.graph` and must not pull in
gymnasium): `envs.registration` registers the gym envs, e.g.
`gymnasium.make("envs.registration:edgewise/Autoscale-v4")`.
"""
