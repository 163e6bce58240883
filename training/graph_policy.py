"""The graph-conditioned actor-critic for stable-baselines3's PPO. Adapter: torch and SB3.

One network serves every service of every app (envs/graph_features.py for the observation):
each service's row, joined with the app-wide features, goes through a shared layer; then
`rounds` rounds of message passing, each a shared layer over [own state, mean state of its
callers, mean state of its callees, mean state of the app]; a shared linear head gives the
service's action (the mean of a Gaussian, log2 multiplier on its base sizing). The critic is
the same shape with its own weights, pooled (mean and max over services) into one value.
Padding services (beyond the app's n) are masked out of every mean, of the value and of the
action log-likelihood and entropy, so they add no noise to the gradient.
`GraphActor.numpy_actor` copies the actor's weights out for the pickle-free runtime
(scaler/learned/graph_actor.py), which computes the same function in numpy; `load_actor` copies
such weights in (an ensemble merged in numpy becomes the policy PPO continues from).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from envs.graph_features import APP_FEATURES, MAX_SERVICES, SERVICE_FEATURES
from scaler.learned.graph_actor import GraphActor


def split(obs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(services (B, N, F), app (B, G), mask (B, N), callers (B, N, N)) of packed observations."""
    n, f, g = MAX_SERVICES, SERVICE_FEATURES, APP_FEATURES
    a, b = n * f, n * f + g
    return (obs[:, :a].reshape(-1, n, f), obs[:, a:b], obs[:, b:b + n],
            obs[:, b + n:].reshape(-1, n, n))


class GraphNet(nn.Module):
    """Shared per-service layers with message passing over the app's real services only (the
    padding is dropped before any layer runs): returns per-service states (V, H) of the V
    valid services, the batch row of each, and the batch size."""

    def __init__(self, hidden: int, rounds: int) -> None:
        super().__init__()
        self.inp = nn.Linear(SERVICE_FEATURES + APP_FEATURES, hidden)
        self.rounds = nn.ModuleList(nn.Linear(4 * hidden, hidden) for _ in range(rounds))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        services, app, mask, callers = split(obs)
        batch, n, _ = services.shape
        valid = mask.reshape(-1) > 0.5
        row = torch.arange(batch, device=obs.device).repeat_interleave(n)[valid]
        pos = torch.cumsum(valid.long(), 0) - 1  # padded slot -> compact index
        x = torch.cat([services.reshape(batch * n, -1)[valid], app[row]], dim=-1)
        h = torch.tanh(self.inp(x))
        # the call graph as an edge list (b, callee, caller): sparse, unlike the padded matrix
        b, callee, caller = torch.nonzero(callers, as_tuple=True)
        into, out_of = pos[b * n + callee], pos[b * n + caller]
        w_up = 1.0 / callers.sum(-1).clamp(min=1.0)[b, callee]  # mean over a callee's callers
        w_down = 1.0 / callers.sum(-2).clamp(min=1.0)[b, caller]  # mean over a caller's callees
        count = mask.sum(1).clamp(min=1.0)[:, None]
        for layer in self.rounds:
            up = torch.zeros_like(h).index_add_(0, into, h[out_of] * w_up[:, None])
            down = torch.zeros_like(h).index_add_(0, out_of, h[into] * w_down[:, None])
            pool = torch.zeros(batch, h.shape[1], dtype=h.dtype, device=h.device)
            pool = pool.index_add_(0, row, h) / count
            h = torch.tanh(layer(torch.cat([h, up, down, pool[row]], dim=-1)))
        return h, row, valid


class GraphExtractor(nn.Module):
    """SB3's `mlp_extractor`: latent_pi is the per-service action mean (B, N), 0 on padding;
    latent_vf the critic state (B, 2H): mean and max over the app's services."""

    def __init__(self, hidden: int, rounds: int) -> None:
        super().__init__()
        self.pi, self.vf = GraphNet(hidden, rounds), GraphNet(hidden, rounds)
        self.pi_head = nn.Linear(hidden, 1)
        self.latent_dim_pi, self.latent_dim_vf = MAX_SERVICES, 2 * hidden

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        h, _, valid = self.pi(obs)
        out = torch.zeros(valid.shape[0], dtype=h.dtype, device=h.device)
        out = out.masked_scatter(valid, self.pi_head(h).squeeze(-1))
        return out.reshape(-1, MAX_SERVICES)

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        h, row, _ = self.vf(obs)
        batch = obs.shape[0]
        index = row[:, None].expand_as(h)
        total = torch.zeros(batch, h.shape[1], dtype=h.dtype, device=h.device)
        count = torch.zeros(batch, 1, dtype=h.dtype, device=h.device).index_add_(
            0, row, torch.ones_like(h[:, :1]))
        mean = total.index_add_(0, row, h) / count.clamp(min=1.0)
        peak = torch.full_like(total, -1.0).scatter_reduce(0, index, h, "amax")
        return torch.cat([mean, peak], dim=-1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)


class GraphActorCriticPolicy(ActorCriticPolicy):
    """ActorCriticPolicy with `GraphExtractor`; `hidden` and `rounds` via policy_kwargs."""

    def __init__(self, observation_space: spaces.Space[Any], action_space: spaces.Space[Any],
                 lr_schedule: Schedule, *, hidden: int = 64, rounds: int = 2,
                 **kwargs: Any) -> None:
        self.hidden, self.rounds = hidden, rounds
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = GraphExtractor(self.hidden, self.rounds)  # type: ignore[assignment]

    def _extractor(self) -> GraphExtractor:
        ex = self.mlp_extractor
        assert isinstance(ex, GraphExtractor)
        return ex

    def _normal(self, latent_pi: torch.Tensor) -> torch.distributions.Normal:
        dist = self._get_action_dist_from_latent(latent_pi)
        normal = getattr(dist, "distribution", None)
        assert isinstance(normal, torch.distributions.Normal)
        return normal

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()  # the extractor's head already gives the mean
        head = self._extractor().pi_head
        nn.init.orthogonal_(head.weight, gain=0.01)
        nn.init.zeros_(head.bias)
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _mask(self, obs: torch.Tensor) -> torch.Tensor:
        return split(obs)[2]

    def forward(self, obs: torch.Tensor, deterministic: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        latent_pi, latent_vf = self.mlp_extractor(self.extract_features(obs))
        values = self.value_net(latent_vf)
        normal = self._normal(latent_pi)
        actions = normal.mean if deterministic else normal.rsample()
        log_prob = (normal.log_prob(actions) * self._mask(obs)).sum(-1)  # type: ignore[no-untyped-call]
        return actions.reshape((-1, *self.action_space.shape)), values, log_prob  # type: ignore[misc]

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor  # type: ignore[override]
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        latent_pi, latent_vf = self.mlp_extractor(self.extract_features(obs))
        normal = self._normal(latent_pi)
        mask = self._mask(obs)
        log_prob = (normal.log_prob(actions) * mask).sum(-1)  # type: ignore[no-untyped-call]
        entropy = (normal.entropy() * mask).sum(-1)  # type: ignore[no-untyped-call]
        return self.value_net(latent_vf), log_prob, entropy

    def numpy_actor(self) -> GraphActor:
        """The deterministic actor's weights as float32 arrays (for actor.npz)."""
        ex = self._extractor()

        def arrays(layer: nn.Linear) -> tuple[np.ndarray, np.ndarray]:
            return (layer.weight.detach().numpy().T.astype(np.float32).copy(),
                    layer.bias.detach().numpy().astype(np.float32).copy())

        return GraphActor(arrays(ex.pi.inp), tuple(arrays(r) for r in self._rounds()),
                          arrays(ex.pi_head))

    def load_actor(self, actor: GraphActor) -> None:
        """Set the actor's weights (not the critic's) to `actor`'s, of this policy's shape."""
        ex = self._extractor()
        layers = [ex.pi.inp, *self._rounds(), ex.pi_head]
        arrays = [actor.inp, *actor.rounds, actor.head]
        if len(layers) != len(arrays) or any(
                tuple(layer.weight.shape) != w.T.shape for layer, (w, _) in zip(layers, arrays,
                                                                                 strict=False)):
            raise ValueError(f"a graph actor of hidden {actor.spec_hidden} and "
                             f"{len(actor.rounds)} rounds does not fit this policy (hidden "
                             f"{self.hidden}, {self.rounds} rounds)")
        with torch.no_grad():
            for layer, (w, b) in zip(layers, arrays, strict=True):
                layer.weight.copy_(torch.as_tensor(w.T))
                layer.bias.copy_(torch.as_tensor(b))

    def _rounds(self) -> list[nn.Linear]:
        return [r for r in self._extractor().pi.rounds if isinstance(r, nn.Linear)]
