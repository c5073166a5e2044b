"""A random search: N_EXPERIMENTS configurations drawn by sample_experiment()."""

import random

ALG_NAMES = ["sgd"]
TASK_NAMES = ["spirals"]
SEEDS = [1, 2]
N_EXPERIMENTS = 8


def sample_experiment():
    return {
        "learning_rate": round(10 ** random.uniform(-2.5, 0), 5),
        "hidden_units": random.choice([4, 8, 16, 32, 64]),
    }
