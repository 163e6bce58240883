"""Loading the learned policy (`policy.type: rl`) for the controller.

`model.path` is an export directory written by `edgewise train` (or `default`, the policy shipped
in the package). The loading itself, with its manifest, checksum and observation-schema checks,
is scaler/learned/runtime.py's (the one adapter that imports torch); here its errors become one
`ModelLoadError` whose message names the model and what is wrong, so the controller can fall
back to the reactive rule and say why in its Fallback condition.
"""

from __future__ import annotations

from controller.errors import ModelLoadError
from scaler.policy import Policy, PolicyContext


def load_rl_policy(ref: str, ctx: PolicyContext) -> Policy:
    """The model at `ref`, reset for `ctx` (which checks its observation schema)."""
    try:
        from scaler.errors import ModelError
        from scaler.learned.runtime import RLPolicy
    except ImportError as e:
        raise ModelLoadError(f"model {ref!r}: the RL runtime is not installed in the "
                             f"controller ({e.name}); install the 'ml' extra") from None
    try:
        policy = RLPolicy.load(ref)
        policy.reset(ctx)
    except ModelError as e:
        raise ModelLoadError(str(e)) from e
    return policy
