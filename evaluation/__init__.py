"""Evaluation: the episode runner, policy comparison (`edgewise bench`), reports, the live replay
world, and the clairvoyant baselines (oracle, static peak) that read the future."""
