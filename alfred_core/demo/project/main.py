"""alfred's demo project: a small neural network trained with numpy.

Two tasks (classifying two interleaved spirals, fitting a noisy sine) and two
algorithms (plain SGD and SGD with momentum). A large learning rate with momentum
makes training diverge: the run stops with an error, as a real one would.
"""

import argparse
import time

import numpy as np

from alfred_core import Recorder


def get_main_args(overwritten_cmd_line=None):
    parser = argparse.ArgumentParser(description="alfred demo: a tiny MLP in numpy")
    parser.add_argument("--alg_name", default="sgd", choices=["sgd", "momentum"])
    parser.add_argument("--task_name", default="spirals", choices=["spirals", "sine"])
    parser.add_argument("--desc", default="")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--hidden_units", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_epochs", type=int, default=150)
    return parser.parse_args(overwritten_cmd_line)


def set_up_alfred():
    """Defaults for alfred's summaries and figures."""
    return {
        "x_metric": "epoch",
        "y_metric": "eval_score",
        "score_metric": "eval_score",
        "aggregate": "mean_last_20pct",
        "budget_key": "max_epochs",
    }


def make_task(name, rng, size=4096):
    if name == "spirals":
        turns = rng.uniform(0.25, 3.0, size) * np.pi
        labels = rng.integers(0, 2, size)
        angle = turns + labels * np.pi
        inputs = np.stack([turns * np.cos(angle), turns * np.sin(angle)], axis=1) / 10
        inputs += rng.normal(0, 0.02, inputs.shape)
        return inputs, labels
    inputs = rng.uniform(-1, 1, (size, 1))
    targets = np.sin(3 * inputs) + rng.normal(0, 0.1, inputs.shape)
    return inputs, targets


def forward(params, inputs):
    hidden = np.tanh(inputs @ params["w1"] + params["b1"])
    return hidden, hidden @ params["w2"] + params["b2"]


def loss_and_grads(params, inputs, targets, task):
    hidden, outputs = forward(params, inputs)
    if task == "spirals":
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(len(targets)), targets].mean()
        d_outputs = np.exp(log_probs)
        d_outputs[np.arange(len(targets)), targets] -= 1
    else:
        error = outputs - targets
        loss = (error**2).mean()
        d_outputs = 2 * error
    d_outputs /= len(inputs)
    d_hidden = (d_outputs @ params["w2"].T) * (1 - hidden**2)
    grads = {
        "w2": hidden.T @ d_outputs,
        "b2": d_outputs.sum(0),
        "w1": inputs.T @ d_hidden,
        "b1": d_hidden.sum(0),
    }
    return loss, grads


def score(params, inputs, targets, task):
    """Accuracy on spirals, 1 - normalised squared error on sine (1 is perfect)."""
    _, outputs = forward(params, inputs)
    if task == "spirals":
        return float((outputs.argmax(axis=1) == targets).mean())
    return float(1 - ((outputs - targets) ** 2).mean() / targets.var())


def main(config, dir_tree, logger, pbar=None):
    rng = np.random.default_rng(config.seed)
    inputs, targets = make_task(config.task_name, rng)
    split = int(0.8 * len(inputs))
    valid = slice(split, None)

    n_out = 2 if config.task_name == "spirals" else 1
    n_in = inputs.shape[1]
    params = {
        "w1": rng.normal(0, 1 / np.sqrt(n_in), (n_in, config.hidden_units)),
        "b1": np.zeros(config.hidden_units),
        "w2": rng.normal(
            0, 1 / np.sqrt(config.hidden_units), (config.hidden_units, n_out)
        ),
        "b2": np.zeros(n_out),
    }
    velocity = {name: np.zeros_like(value) for name, value in params.items()}
    momentum = 0.9 if config.alg_name == "momentum" else 0.0

    recorder = Recorder(["epoch", "train_loss", "eval_loss", "eval_score", "wallclock"])
    logger.info(
        "training %s on %s, lr=%s, hidden=%s",
        config.alg_name,
        config.task_name,
        config.learning_rate,
        config.hidden_units,
    )
    if pbar is not None:
        pbar.reset(total=config.max_epochs)
    start = time.time()

    for epoch in range(1, config.max_epochs + 1):
        order = rng.permutation(split)
        losses = []
        for begin in range(0, split, config.batch_size):
            batch = order[begin : begin + config.batch_size]
            loss, grads = loss_and_grads(
                params, inputs[batch], targets[batch], config.task_name
            )
            if not np.isfinite(loss) or loss > 1e4:
                raise FloatingPointError(
                    f"training diverged at epoch {epoch} (loss {loss:.3g}); "
                    f"learning_rate={config.learning_rate} is too large"
                )
            for name in params:
                velocity[name] = (
                    momentum * velocity[name] - config.learning_rate * grads[name]
                )
                params[name] += velocity[name]
            losses.append(loss)

        eval_loss, _ = loss_and_grads(
            params, inputs[valid], targets[valid], config.task_name
        )
        eval_score = score(params, inputs[valid], targets[valid], config.task_name)
        recorder.write_to_tape(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "eval_loss": float(eval_loss),
                "eval_score": eval_score,
                "wallclock": time.time() - start,
            }
        )
        if epoch % 10 == 0:
            logger.info(
                "epoch %d: train loss %.4f, eval score %.3f",
                epoch,
                np.mean(losses),
                eval_score,
            )
        if pbar is not None:
            pbar.update(1)

    dir_tree.recorders_dir.mkdir(parents=True, exist_ok=True)
    recorder.save(dir_tree.recorders_dir / "train_recorder.pkl")
    logger.info("done: eval score %.3f", eval_score)
