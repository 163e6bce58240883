"""Loading the learned policy (`policy.type: rl`) for the controller.

`model.path` is an export directory written by `edgewise train` (or `default`, the policy shipped
in the package). The loading itself, with its signature, manifest, checksum and
observation-schema checks, is scaler/learned/runtime.py's (numpy only: it never unpickles); here
its errors become one `ModelLoadError` whose message names the model and what is wrong, so the
controller can fall back to the reactive rule and say why in its Fallback condition.

Which signatures count: the controller's `--trusted-model-key` keys (the operator's) when given,
narrowed to the spec's `model.trustedPublicKey` when that is set too (a tenant can pin its own
key but never widen what the operator trusts); the spec's key alone when the controller has
none; no signature check when neither is configured.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from controller.errors import ModelLoadError
from controller.spec import ModelRef
from scaler.errors import ModelError, ScalerError
from scaler.learned.runtime import RLPolicy
from scaler.learned.signature import key_id, parse_public_key
from scaler.policy import Policy, PolicyContext


def accepted_keys(model: ModelRef, operator_keys: Sequence[Ed25519PublicKey]
                  ) -> tuple[Ed25519PublicKey, ...]:
    """The keys a signature of this model must verify with (empty: no check)."""
    if model.trusted_public_key is None:
        return tuple(operator_keys)
    try:
        pinned = parse_public_key(model.trusted_public_key.encode(),
                                  "spec.policy.model.trustedPublicKey")
    except ScalerError as e:
        raise ModelLoadError(f"model {model.path!r}: {e}") from None
    if operator_keys and key_id(pinned) not in {key_id(k) for k in operator_keys}:
        raise ModelLoadError(
            f"model {model.path!r}: spec.policy.model.trustedPublicKey ({key_id(pinned)}) is not "
            "one of the controller's --trusted-model-key keys "
            f"({', '.join(key_id(k) for k in operator_keys)}): not loaded")
    return (pinned,)


def load_rl_policy(model: ModelRef, ctx: PolicyContext,
                   operator_keys: Sequence[Ed25519PublicKey] = ()) -> Policy:
    """The model at `model.path`, signature-checked, reset for `ctx` (which checks its
    observation schema)."""
    keys = accepted_keys(model, operator_keys)
    try:
        policy = RLPolicy.load(model.path, trusted_keys=keys)
        policy.reset(ctx)
    except ModelError as e:
        raise ModelLoadError(str(e)) from e
    return policy
