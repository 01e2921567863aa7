"""E5: a two-layer sigmoid network on MNIST - width, learning rate, weights (EXPERIMENTS.md, E5).

MNIST 60k training images scaled to [0, 1] and normalised with mean 0.1307, std 0.3081, seeded
85/15 split (51k train / 9k val), 10k test. Model: Linear(784,H) - Sigmoid - Linear(H,10) -
Softmax, trained with plain SGD on the cross-entropy of the softmax PROBABILITIES against one-hot
targets, batch 1000, 35 epochs. After every epoch the val accuracy is measured; the model with
the best val accuracy (kept only on an improvement > 0.001, i.e. 0.1 point) is tested.

Studies: H in {1, 5, 100, 200} at lr 1e-4; lr in {1e-6, 1e-3, 0.1} at H=100. After H=100 at
lr 0.1, the first-layer weights of hidden units 0, 5, 10, 15, 20 are shown as 28x28 images.

    python examples/sigmoid_mlp.py                            # the 7 runs, correct softmax
    python examples/sigmoid_mlp.py --replicate-softmax-bug    # ... and the original's 7 beside
    python examples/sigmoid_mlp.py --backend cupy
    python examples/sigmoid_mlp.py --quick                    # smoke test: 2k/1k samples, 1 epoch

The original's softmax divided by the sum over the BATCH axis instead of the class axis;
``--replicate-softmax-bug`` trains every configuration a second time with that softmax
(``Softmax(dim=0)``), so the report shows both side by side.

Writes to --out: results.jsonl, <study>_<metric>.png, weights.png, sigmoid_problems.png and
report.md with the test-accuracy table next to the original's numbers.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy    # host-side analysis of the stored weights for the report

from tinynet import backend
from tinynet.data import DataLoader, load_mnist, one_hot, prepare_images, train_val_split
from tinynet.experiment import (RunLog, add_common_arguments, command_line, report_header,
                                run_missing, setup_backend)
from tinynet.losses import Loss
from tinynet.nn import Linear, Sequential, Sigmoid, Softmax
from tinynet.nn.checks import ShapeError
from tinynet.optim import SGD
from tinynet.plots import plot_epoch_metric   # also selects matplotlib's file-only backend
from tinynet.train import Callback, History, evaluate, fit

MEAN, STD, VAL_FRACTION = 0.1307, 0.3081, 0.15
EPOCHS, BATCH_SIZE, MIN_IMPROVEMENT = 35, 1000, 0.001
# study -> (the factor it varies, the values tried, the other factor's fixed value)
STUDIES = {
    "hidden_size": ("hidden", (1, 5, 100, 200), {"lr": 1e-4}),
    "learning_rate": ("lr", (1e-6, 1e-3, 0.1), {"hidden": 100}),
}
WEIGHT_RUN, WEIGHT_UNITS = {"hidden": 100, "lr": 0.1}, (0, 5, 10, 15, 20)
SOFTMAX_AXIS = {"class": 1, "batch": 0}     # "batch" is the original's bug
# Test accuracy (%) the original reported (with the batch-axis softmax).
ORIGINAL = {"hidden_size": {1: 18.29, 5: 27.85, 100: 25.09, 200: 35.56},
            "learning_rate": {1e-6: 9.82, 1e-3: 72.03, 0.1: 93.56}}
SATURATED = 0.05    # a sigmoid output below 0.05 or above 0.95 counts as saturated
QUICK_TRAIN, QUICK_EVAL = 2000, 1000


class ProbabilityCrossEntropy(Loss):
    """Cross-entropy of probabilities ``p`` (N, C) - the output of a Softmax layer - against
    one-hot (or probability) targets ``t`` (N, C), as the original computed it:

        L = -(1/N) sum_n sum_c t_nc log p_nc

    Backward: dL/dp_nc = -t_nc / (N p_nc). Backprop then goes through the Softmax layer's own
    Jacobian; :class:`tinynet.losses.CrossEntropyLoss` fuses the two into ``(p - t) / N`` from
    the logits, which is cheaper and more accurate - this class exists to reproduce the
    original's network, softmax layer included.

    ``p`` is clamped to at least ``TINY`` inside the log (forward and backward alike), so a
    confidently wrong prediction gives a large finite loss rather than ``inf``.
    """

    TINY = 1e-30

    def __init__(self):
        self.clamped = None
        self.target = None

    def forward(self, probabilities, target):
        if probabilities.ndim != 2 or target.shape != probabilities.shape:
            raise ShapeError(f"{self!r}: expected probabilities (N, C) and one-hot targets of "
                             f"the same shape, got {tuple(probabilities.shape)} and "
                             f"{tuple(target.shape)}")
        self.clamped = backend.xp.maximum(probabilities, self.TINY)
        self.target = target
        return -(target * backend.xp.log(self.clamped)).sum() / probabilities.shape[0]

    def backward(self, grad_out=1.0):
        return self.target / self.clamped * (-grad_out / self.clamped.shape[0])


def build_model(hidden: int, softmax: str = "class") -> Sequential:
    """Linear(784,H) - Sigmoid - Linear(H,10) - Softmax over the class axis (``"class"``) or,
    reproducing the original's bug, over the batch axis (``"batch"``: Softmax(dim=0))."""
    return Sequential(Linear(784, hidden), Sigmoid(), Linear(hidden, 10),
                      Softmax(dim=SOFTMAX_AXIS[softmax]))


class KeepBestByValidation(Callback):
    """Keeps a copy of the model's state whenever val accuracy beats the best so far by more
    than ``min_improvement``; ``state`` and ``epoch`` then describe the kept model."""

    def __init__(self, model, min_improvement: float):
        self.model, self.min_improvement = model, min_improvement
        self.best, self.epoch, self.state = -math.inf, None, None

    def on_epoch_end(self, epoch, record, history):
        if record["val_acc"] > self.best + self.min_improvement:
            self.best, self.epoch, self.state = record["val_acc"], epoch, self.model.state_dict()
        return False


class SigmoidProblems(Callback):
    """Every ``every`` steps, the numbers behind sigmoid's known problems, into
    ``history.extra["sigmoid"]`` (one host float per sampled step in each list):

    - ``saturated``: fraction of hidden outputs y below SATURATED or above 1 - SATURATED, where
      the local slope y (1 - y) is under 0.05 (its maximum, at y = 0.5, is 0.25);
    - ``mean_slope``: mean of y (1 - y) over the batch: the factor by which the sigmoid scales
      every gradient passing back through it (never more than 0.25: vanishing gradients);
    - ``mean_output``: mean of y, in (0, 1): outputs are all positive, not zero-centred, so every
      weight into one output unit gets a gradient of the same sign from a given sample;
    - ``grad_norm_first`` / ``grad_norm_second``: ||dL/dW|| of the first and second Linear.
    """

    def __init__(self, every: int = 5):
        self.every = every

    def on_after_backward(self, model, step, history):
        if step % self.every:
            return
        xp = backend.xp
        y = model[1].out                              # the Sigmoid's output, (N, H)
        slope = y * (1 - y)
        saturated = ((y < SATURATED) | (y > 1 - SATURATED)).mean()
        norms = [xp.sqrt((model[i].weight.grad ** 2).sum()) for i in (0, 2)]
        values = backend.to_numpy(xp.stack([saturated, slope.mean(), y.mean(), *norms]))
        stats = history.extra.setdefault("sigmoid", {key: [] for key in (
            "step", "saturated", "mean_slope", "mean_output", "grad_norm_first",
            "grad_norm_second")})
        stats["step"].append(step)
        for key, value in zip(list(stats)[1:], values):
            stats[key].append(float(value))


def load_data(data_dir, seed: int, quick: bool):
    """(train, val, test) with one-hot targets, and the mask of pixels blank in every training
    image (for the weight analysis)."""
    images, labels = load_mnist("train", data_dir=data_dir)
    test_images, test_labels = load_mnist("test", data_dir=data_dir)
    x = prepare_images(images, MEAN, STD, flatten=True)
    train, val = train_val_split(x, one_hot(labels), VAL_FRACTION, seed=seed)
    test = (prepare_images(test_images, MEAN, STD, flatten=True), one_hot(test_labels))
    if quick:
        train, val, test = ((x[:n], y[:n]) for (x, y), n in
                            ((train, QUICK_TRAIN), (val, QUICK_EVAL), (test, QUICK_EVAL)))
    blank_pixels = (images == 0).all(axis=0).reshape(-1)
    return (train, val, test), blank_pixels


def train_one(config: dict, data, progress: bool):
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data
    backend.seed(config["seed"])
    model = build_model(config["hidden"], config["softmax"])
    initial = backend.to_numpy(model[0].weight.data).copy()
    loss_fn = ProbabilityCrossEntropy()
    keep_best = KeepBestByValidation(model, MIN_IMPROVEMENT)
    history = fit(model, loss_fn, SGD(model.parameters(), lr=config["lr"]),
                  DataLoader(x_train, y_train, BATCH_SIZE, shuffle=True, seed=config["seed"]),
                  config["epochs"], DataLoader(x_val, y_val, BATCH_SIZE),
                  callbacks=[keep_best, SigmoidProblems()], progress=progress,
                  description=run_id(config))
    results = {"best_epoch": keep_best.epoch,
               "best_val_acc": None if keep_best.state is None else keep_best.best}
    if keep_best.state is not None:
        model.load_state_dict(keep_best.state)
        results["test_loss"], results["test_acc"] = evaluate(
            model, loss_fn, DataLoader(x_test, y_test, BATCH_SIZE))
    if {key: config[key] for key in WEIGHT_RUN} == WEIGHT_RUN:
        final = backend.to_numpy(model[0].weight.data)
        results["weights_initial"] = initial[list(WEIGHT_UNITS)].tolist()
        results["weights_kept"] = final[list(WEIGHT_UNITS)].tolist()
    return history, results


def run_id(config: dict) -> str:
    return f"H={config['hidden']} lr={config['lr']:g} softmax over {config['softmax']} axis"


def planned_runs(variants, epochs: int, seed: int, quick: bool):
    """(study, value, config) for every cell of both studies and every softmax variant."""
    for softmax in variants:
        for study, (factor, values, fixed) in STUDIES.items():
            for value in values:
                config = dict(fixed, softmax=softmax, epochs=epochs, seed=seed, quick=quick)
                config[factor] = value
                yield study, value, config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, default_out="runs/sigmoid_mlp")
    parser.add_argument("--replicate-softmax-bug", action="store_true",
                        help="also train every configuration with the original's softmax over "
                             "the batch axis (Softmax(dim=0)) and report both side by side")
    args = parser.parse_args(argv)
    setup_backend(parser, args)
    epochs = args.epochs or (1 if args.quick else EPOCHS)
    variants = ("class", "batch") if args.replicate_softmax_bug else ("class",)
    log = RunLog(args.out, resume=args.resume)
    data, blank_pixels = load_data(args.data_dir, args.seed, args.quick)
    cells = list(planned_runs(variants, epochs, args.seed, args.quick))
    started = time.perf_counter()
    run_missing(log, [(run_id(c), c) for _, _, c in cells],
                lambda config: train_one(config, data, progress=not args.quiet))
    command = command_line("sigmoid_mlp.py", sys.argv[1:] if argv is None else argv)
    write_report(Path(args.out), log, cells, variants, blank_pixels,
                 time.perf_counter() - started, command)
    print(f"report: {Path(args.out) / 'report.md'}")


# --- report ---------------------------------------------------------------------------------

METRICS = {"train_acc": "train accuracy (running, over the epoch)", "val_acc": "val accuracy",
           "train_loss": "train loss (running mean)", "val_loss": "val loss"}


def write_report(out: Path, log: RunLog, cells, variants, blank_pixels, session_seconds: float,
                 command: str):
    records = {run_id(c): log.records[run_id(c)] for _, _, c in cells}
    config0 = cells[0][2]
    lines = report_header("E5: a two-layer sigmoid network on MNIST", log, command,
                          session_seconds) + [
        f"MNIST normalised with mean {MEAN}, std {STD}; seeded 85/15 split of the training set, "
        f"official 10k test set. Linear(784,H) - Sigmoid - Linear(H,10) - Softmax, "
        f"cross-entropy on the softmax probabilities against one-hot targets, plain SGD, batch "
        f"{BATCH_SIZE}, {config0['epochs']} epoch(s), seed {config0['seed']}. The model kept is "
        f"the one with the best val accuracy (an improvement must exceed {MIN_IMPROVEMENT}, "
        f"i.e. 0.1 point); its test accuracy is reported.", "",
        "## Test accuracy (%) of the kept model", "",
        *_accuracy_table(records, cells, variants), "",
    ]
    if "batch" in variants:
        lines += _softmax_bug_section(records, cells)
    for study in STUDIES:
        lines += [f"### {study.replace('_', ' ')}: curves", ""]
        for metric, label in METRICS.items():
            histories = {_label(c): History.from_dict(records[run_id(c)]["history"])
                         for s, _, c in cells if s == study}
            plot_epoch_metric(histories, metric, out / f"{study}_{metric}.png",
                              f"E5 {study.replace('_', ' ')}: {label}", label)
        lines += [" ".join(f"![{metric}]({study}_{metric}.png)" for metric in METRICS), ""]
    lines += _sigmoid_section(out, records, cells)
    lines += _weights_section(out, records, variants, blank_pixels)
    lines += NOTES
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _label(config):
    bug = " (batch-axis softmax)" if config["softmax"] == "batch" else ""
    return f"H={config['hidden']}, lr={config['lr']:g}{bug}"


def _accuracy_table(records, cells, variants) -> list:
    bug = "batch" in variants
    header = ("| study | setting | correct softmax: test acc (best epoch) | "
              + ("batch-axis softmax (the bug): test acc (best epoch) | " if bug else "")
              + "original (batch-axis softmax) |")
    rows = [header, "|---" * (5 if bug else 4) + "|"]
    for study, value, config in cells:
        if config["softmax"] != "class":
            continue
        cells_text = [_acc_cell(records[run_id(config)])]
        if bug:
            cells_text.append(_acc_cell(records[run_id(dict(config, softmax="batch"))]))
        factor = STUDIES[study][0]
        setting = (f"H={value} (lr 1e-4)" if factor == "hidden" else f"lr={value:g} (H=100)")
        rows.append(f"| {study.replace('_', ' ')} | {setting} | " + " | ".join(cells_text) +
                    f" | {ORIGINAL[study][value]:.2f} |")
    return rows


def _acc_cell(record) -> str:
    results, history = record["results"], record["history"]
    text = "-" if results.get("test_acc") is None else (
        f"{100 * results['test_acc']:.2f} ({results['best_epoch']})")
    if history["status"] == "diverged":
        text += f" diverged at step {history['diverged_at_step']}"
    return text


def _softmax_bug_section(records, cells) -> list:
    rows = ["| run | loss at step 0 | final train loss | final val acc (%) |", "|---|---|---|---|"]
    for _, _, config in cells:
        history = records[run_id(config)]["history"]
        last = history["epochs"][-1] if history["epochs"] else {}
        rows.append(f"| {run_id(config)} | {history['step_loss'][0]:.3f} | "
                    f"{last.get('train_loss', float('nan')):.3f} | "
                    f"{100 * last.get('val_acc', float('nan')):.2f} |")
    return [
        "## The original's softmax bug, side by side", "",
        f"The original normalised exp(z) by its sum over the batch axis (each class column of a "
        f"batch of {BATCH_SIZE} sums to 1) instead of over the class axis (each row sums to 1). "
        f"Every probability is then about 1/{BATCH_SIZE}, so the loss starts near "
        f"ln({BATCH_SIZE}) = {math.log(BATCH_SIZE):.2f} instead of ln(10) = "
        f"{math.log(10):.2f}, and it cannot go below about ln({BATCH_SIZE // 10}) = "
        f"{math.log(BATCH_SIZE // 10):.2f} (the ~{BATCH_SIZE // 10} samples of a class in a "
        f"batch must share their class column's total of 1). The gradient pushes a sample's "
        f"logit up relative to the other samples' logits for the same class, not relative to "
        f"the other classes, and the prediction (arg-max over classes of these "
        f"column-normalised numbers) depends on which other samples share the batch. "
        f"`--replicate-softmax-bug` uses `Softmax(dim=0)`; everything else is identical.", "",
        *rows, "",
        "The lesson is about what each kind of test proves. A gradient check "
        "(`tinynet.gradcheck.check_module`) passes for `Softmax(dim=0)` too: its backward is "
        "right for the function its forward computes. Only a test of the forward against "
        "what was meant - each row sums to 1, or the same numbers as a reference softmax over "
        "classes - catches a forward that computes the wrong function.", "",
    ]


def _sigmoid_section(out: Path, records, cells) -> list:
    runs = [(run_id(c), records[run_id(c)]["history"]["extra"].get("sigmoid"))
            for _, _, c in cells if c["softmax"] == "class"]
    runs = [(name, stats) for name, stats in runs if stats and stats["step"]]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    rows = ["| run | step | saturated units (%) | mean slope y(1-y) | mean output y | "
            "norm dL/dW1 | norm dL/dW2 | ratio W1/W2 |", "|---" * 8 + "|"]
    for name, stats in runs:
        for index in sorted({0, len(stats["step"]) - 1}):
            first, second = stats["grad_norm_first"][index], stats["grad_norm_second"][index]
            ratio = first / second if second else math.nan
            rows.append(f"| {name} | {stats['step'][index]} | "
                        f"{100 * stats['saturated'][index]:.1f} | "
                        f"{stats['mean_slope'][index]:.4f} | {stats['mean_output'][index]:.3f} | "
                        f"{first:.2e} | {second:.2e} | {ratio:.3f} |")
        short = name.replace(" softmax over class axis", "")
        axes[0].plot(stats["step"], stats["saturated"], label=short)
        axes[1].plot(stats["step"], stats["mean_slope"], label=short)
        (line,) = axes[2].plot(stats["step"], stats["grad_norm_first"], label=short)
        axes[2].plot(stats["step"], stats["grad_norm_second"], "--", color=line.get_color())
    axes[0].set(xlabel="step", ylabel="fraction", title="saturated hidden units (y<0.05 or >0.95)")
    axes[1].set(xlabel="step", ylabel="mean y(1-y)", title="mean sigmoid slope (max 0.25)")
    axes[2].set(xlabel="step", ylabel="L2 norm", yscale="log",
                title="gradient norm per layer (solid W1, dashed W2)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    fig.savefig(out / "sigmoid_problems.png", dpi=110)
    plt.close(fig)
    return [
        "## Sigmoid's problems, measured", "",
        "Sampled every 5 steps during training (correct softmax); the table shows the first and "
        "the last sample of each run. Slope y(1-y) is the factor the sigmoid multiplies every "
        "gradient by on its way back to W1 (at most 0.25, and near 0 for a saturated unit).", "",
        *rows, "",
        "![saturation, slope and gradient norms](sigmoid_problems.png)", "",
        "- **Vanishing gradients.** Every gradient reaching W1 has been multiplied by y(1-y) <= "
        "0.25; a saturated unit passes almost nothing back, so its incoming weights stop "
        "learning. In a deeper sigmoid stack these factors multiply, layer after layer.",
        "- **Saturation.** Large pre-activations (large weights, or large learning rates) push "
        "units to the flat ends of the curve; the saturated fraction shows how many.",
        "- **Not zero-centred.** Outputs lie in (0, 1) (mean output above), so for one sample "
        "all the gradients of the weights into a given unit of the next layer share the sign "
        "of that unit's error: updates zig-zag. tanh (zero-centred) and ReLU (slope 1 where "
        "active) avoid one or both problems.",
        "- **Cost.** exp (here tanh) is dearer than max(x, 0); a minor point on a CPU.", "",
    ]


def _weights_section(out: Path, records, variants, blank_pixels) -> list:
    shown = [(softmax, _weight_record(records, softmax)) for softmax in variants]
    shown = [(softmax, record) for softmax, record in shown if record is not None]
    if not shown:
        return []
    fig, axes = plt.subplots(2 * len(shown), len(WEIGHT_UNITS),
                             figsize=(2.2 * len(WEIGHT_UNITS), 4.6 * len(shown)), squeeze=False)
    rows = ["| softmax | unit | std of the change, always-blank pixels | std of the change, "
            "other pixels |", "|---|---|---|---|"]
    for block, (softmax, record) in enumerate(shown):
        initial = numpy.asarray(record["results"]["weights_initial"])
        kept = numpy.asarray(record["results"]["weights_kept"])
        change = kept - initial
        for column, unit in enumerate(WEIGHT_UNITS):
            for row, (image, what) in enumerate(((kept[column], "weights"),
                                                 (change[column], "change"))):
                ax = axes[2 * block + row, column]
                ax.imshow(image.reshape(28, 28), cmap="gray")
                ax.set_title(f"unit {unit} {what}" + ("\n(batch softmax)" if softmax == "batch"
                                                      else ""), fontsize=8)
                ax.axis("off")
            rows.append(f"| {softmax} axis | {unit} | {change[column][blank_pixels].std():.2e} "
                        f"| {change[column][~blank_pixels].std():.2e} |")
    fig.tight_layout()
    fig.savefig(out / "weights.png", dpi=110)
    plt.close(fig)
    return [
        "## First-layer weights after H=100, lr 0.1", "",
        f"Units {', '.join(map(str, WEIGHT_UNITS))} of the kept model, each row of W1 shown as "
        "a 28x28 image (bright = large positive weight, per-image grey scale), and below it the "
        "change from its initial value.", "",
        "![first-layer weights](weights.png)", "",
        f"Where the bright regions are, and why: {int(blank_pixels.sum())} pixels are blank "
        "(0) in every training image, mostly the outer frame. After normalisation they equal "
        f"(0 - {MEAN}) / {STD} = {-MEAN / STD:.3f} in every image, so the gradient of every "
        "such weight of a unit is the same number (that constant times the unit's error "
        "signal): they all move together, like a second bias, and keep the random pattern of "
        "their initialisation. The structure - bright and dark strokes - appears only where "
        "digits put ink, in the centre: a unit is excited (bright) by ink where its weights "
        "are positive and inhibited (dark) where they are negative, a template of the stroke "
        "patterns that separate classes. The spread of the change over the two kinds of "
        "pixels measures it:", "",
        *rows, "",
    ]


def _weight_record(records, softmax):
    for record in records.values():
        config = record["config"]
        if config["softmax"] == softmax and all(config[k] == v for k, v in WEIGHT_RUN.items()):
            return record
    return None


NOTES = [
    "## Notes on the comparison", "",
    "- The original's numbers were produced with the batch-axis softmax (see above): compare "
    "them with the bug column, not with the correct one.",
    "- Single runs, seed 0; the original's seeds and split cannot be matched sample for sample "
    "(different random streams).",
    "- The kept model is chosen on the val split and tested once on the test set.",
]


if __name__ == "__main__":
    main()
