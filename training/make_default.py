"""Reproduce the default policy shipped in training/data/default-policy.

    python -m training.make_default [--work DIR]

Trains with training/data/default-train.yaml (seeded) into DIR (default: a `default-train`
folder in the current directory) and copies the export into the package. Needs the `ml` extra.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from training.config import load_config
from training.rl_policy import default_model_dir
from training.train import train

CONFIG = Path(__file__).resolve().parent / "data" / "default-train.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--work", default="default-train", help="training output directory")
    args = parser.parse_args(argv)
    exported = train(load_config(CONFIG), Path(args.work))
    target = default_model_dir()
    target.mkdir(parents=True, exist_ok=True)
    for f in exported.iterdir():
        shutil.copy2(f, target / f.name)
    print(f"default policy written to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
