"""`edgewise train` and `edgewise evaluate`: `add_parser(subparsers)` registers both.

Exit codes: 0 done, 2 bad input (config, scenario, a run directory, a key, or a model that fails
its checks: one line on stderr). `train` needs the `ml` extra (torch, stable-baselines3);
`evaluate` does not (the learned-policy runtime is numpy only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

from edgewise import flag_types
from edgewise.exits import Exit, fail
from edgewise.outputs import claim_dir
from envs.errors import EnvError
from scaler.errors import ModelError, ScalerError
from training.errors import TrainingError

ML_HINT = "needs the ml extra (torch, stable-baselines3): pip install 'edgewise[ml]'"


def ml_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "stable_baselines3"))


def _fail(message: str) -> int:
    return fail("edgewise", message)


def cmd_train(args: argparse.Namespace) -> int:
    if not ml_available():
        return _fail(f"train {ML_HINT}")
    from scaler.learned.signature import load_private_key
    from training.config import load_config
    from training.train import train

    try:
        key = load_private_key(Path(args.signing_key)) if args.signing_key else None
        cfg = load_config(args.config)
        if args.seed is not None:
            cfg = cfg.model_copy(update={"seed": args.seed})
        model = train(cfg, Path(args.out), resume=args.resume, force=args.force,
                      progress=not args.quiet, signing_key=key)
    except (TrainingError, EnvError, ScalerError) as e:
        return _fail(str(e))
    print(f"model exported to {model}" + (" (signed)" if key else ""))
    if args.install_default:
        from training.default_policy import install_default

        print(f"default policy written to {install_default(model)}")
    return Exit.OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from envs.scenario import load_scenario
    from evaluation.compare import BASELINES, rl_factories, run_bench, write_outputs
    from scaler.learned.signature import load_public_key

    claim_dir(Path(args.out), ("results.json", "timeline.csv", "report.html"), force=args.force,
              inputs=[args.scenario])
    try:
        keys = tuple(load_public_key(Path(p)) for p in args.trusted_key or ())
        scenario = load_scenario(args.scenario)
        factories = {**BASELINES, **rl_factories(args.model, check_graph=scenario.graph,
                                                 trusted_keys=keys)}
    except (TrainingError, ModelError, EnvError, ScalerError) as e:
        return _fail(str(e))
    names = args.policies.split(",") if args.policies else list(factories)
    unknown = [n for n in names if n not in factories]
    if unknown:
        return _fail(f"unknown policy {unknown[0]!r} (known: {', '.join(factories)})")
    bench = run_bench(scenario, names, args.seed, factories=factories)
    res: dict[str, Any] = write_outputs(bench, Path(args.out))
    print(json.dumps(res["policies"], indent=2, allow_nan=False))
    return Exit.OK


def add_parser(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train", help="train a PPO scaling policy in the twin",
        description="Train PPO on edgewise/Autoscale-v4 from a YAML config (see "
        "training/config.py); write eval.csv (the training curve), checkpoints/, logs/ (CSV, "
        "TensorBoard if installed) and the exported policy in OUT/model. OUT must be new or "
        "empty (it gets an edgewise-run.json marker); an existing run is refused unless --resume "
        "(continue it: only a run this tool created, owned by you) or --force (start clean: "
        "deletes its checkpoints/, best/, logs/, model/, eval.csv, nothing else).")
    train.add_argument("--config", required=True, help="training config YAML")
    train.add_argument("--out", required=True, help="run directory")
    train.add_argument("--resume", action="store_true", help="continue from OUT checkpoints")
    train.add_argument("--force", action="store_true",
                       help="start a new run in an existing run directory (deletes its files)")
    train.add_argument("--signing-key", metavar="PEM",
                       help="sign the export with this Ed25519 private key (edgewise model "
                       "keygen); the controller and evaluate --trusted-key verify it")
    train.add_argument("--seed", type=flag_types.seed, default=None,
                       help="override the config's seed")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--install-default", action="store_true",
                       help="copy the export into the package as its default policy (how the "
                       "shipped one is reproduced, with training/data/default-train.yaml)")
    train.set_defaults(func=cmd_train)
    ev = subparsers.add_parser(
        "evaluate", help="compare an RL policy with the baselines on one scenario",
        description="Run rl (with the controller's default guardrails), rl-raw (no guardrails) and "
        "the baselines on one seeded scenario; write results.json, timeline.csv and report.html "
        "like `edgewise bench`. Exit 2 if the model fails its checks. Loads only the export's "
        "plain arrays (actor.npz, obs_norm.npz): never model.zip or a pickle.")
    ev.add_argument("--model", default="default", help="export directory, or `default`")
    ev.add_argument("--trusted-key", metavar="PUB", action="append",
                    help="require a signature by this PEM public key (repeat for several); "
                    "an unsigned or mis-signed model is refused")
    ev.add_argument("--scenario", required=True, help="built-in scenario name or YAML file")
    ev.add_argument("--policies", default=None, help="comma-separated (default: all)")
    ev.add_argument("--seed", type=flag_types.seed, default=0,
                    help="demand noise seed (default 0)")
    ev.add_argument("--out", required=True, help="output directory: results.json, timeline.csv, "
                    "report.html; existing ones refused unless --force")
    ev.add_argument("--force", action="store_true", help="replace existing output files")
    ev.set_defaults(func=cmd_evaluate)
