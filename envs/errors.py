"""Errors raised by the simulated world. Each names the object and the field at fault."""

from __future__ import annotations


class EnvError(Exception):
    """Base class: bad input to the twin (a graph, a trace, a scenario)."""


class GraphError(EnvError):
    """A service graph that cannot be simulated (cycle, unknown callee, bad number...)."""


class TraceError(EnvError):
    """A demand trace that cannot be imported (empty, gaps, unparseable rows)."""


class ScenarioError(EnvError):
    """A scenario file or name that cannot be loaded."""
