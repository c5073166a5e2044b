"""A grid search: every combination of the values below is one experiment."""

ALG_NAMES = ["sgd", "momentum"]
TASK_NAMES = ["spirals", "sine"]
SEEDS = [1, 2, 3]

VARIATIONS = {
    "learning_rate": [0.01, 0.1, 1.0],
    "hidden_units": [8, 32],
}
