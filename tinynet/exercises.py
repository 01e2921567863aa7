"""Check a learner's backward-pass exercise with the property-based gradient checks.

    python -m tinynet.exercises exercises/linear.py [more files ...]

Each skeleton in the repository's ``exercises/`` folder defines one class (``Linear``, ``ReLU``,
``SoftmaxCrossEntropy``, ``BatchNorm1d``, ``Conv2d``) whose backward is left for the learner.
For every such class a file defines, hypothesis draws inputs (batch sizes from 1, shapes,
strides, paddings) and :func:`tinynet.testing.assert_backward_correct` checks each; the
command prints which exercise passed and, for one that failed, why and the smallest input
that fails. The exit status is 0 when every exercise found passed.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinynet.testing import (assert_backward_correct, assert_loss_backward_correct, batches,
                             conv_geometries, image_batches, logits_and_labels)

EXAMPLES = 30
CHECK_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                          derandomize=True, suppress_health_check=[HealthCheck.too_slow])


# --- one property-based check per exercise ----------------------------------------------------
# Each takes the learner's class and returns a hypothesis test to call.

def linear_check(Linear):
    @given(sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)), data=st.data())
    def check_linear(sizes, data):
        in_features, out_features = sizes
        x = data.draw(batches(features=in_features), label="x")
        assert_backward_correct(Linear(in_features, out_features), x)
    return check_linear


def relu_check(ReLU):
    @given(x=batches(features=st.integers(1, 5)))
    def check_relu(x):
        assert_backward_correct(ReLU(), x)
    return check_relu


def softmax_cross_entropy_check(SoftmaxCrossEntropy):
    @given(logits_labels=logits_and_labels(classes=st.integers(2, 5)))
    def check_softmax_cross_entropy(logits_labels):
        assert_loss_backward_correct(SoftmaxCrossEntropy(), *logits_labels)
    return check_softmax_cross_entropy


def batchnorm_check(BatchNorm1d):
    # Three samples at least: with two, xhat = +-1 whatever x is, and dL/dx is rounding noise.
    @given(x=batches(features=st.integers(1, 4), batch_size=st.integers(3, 6)))
    def check_batchnorm(x):
        assert_backward_correct(BatchNorm1d(x.shape[1]), x)
    return check_batchnorm


def conv2d_check(Conv2d):
    @given(channels=st.tuples(st.integers(1, 2), st.integers(1, 3)),
           geometry=conv_geometries(), data=st.data())
    def check_conv2d(channels, geometry, data):
        in_channels, out_channels = channels
        x = data.draw(image_batches(in_channels, geometry.input_size), label="x")
        assert_backward_correct(Conv2d(in_channels, out_channels, **geometry.kwargs()), x)
    return check_conv2d


EXERCISES = {                      # class name in the learner's file -> its check
    "Linear": linear_check,
    "ReLU": relu_check,
    "SoftmaxCrossEntropy": softmax_cross_entropy_check,
    "BatchNorm1d": batchnorm_check,
    "Conv2d": conv2d_check,
}


# --- running them ------------------------------------------------------------------------------

@dataclass
class Result:
    exercise: str
    passed: bool
    detail: str = ""        # for a failure: the error and hypothesis's smallest failing case


def check_file(path) -> list:
    """Run the check of every exercise class ``path`` defines; one Result each."""
    module = _load(Path(path))
    found = [name for name in EXERCISES if isinstance(getattr(module, name, None), type)]
    if not found:
        raise LookupError(f"{path} defines none of the exercise classes "
                          f"{', '.join(EXERCISES)}")
    return [check_class(name, getattr(module, name)) for name in found]


def check_class(exercise: str, cls) -> Result:
    """Run exercise ``exercise``'s check ("Linear", ...) on the learner's class ``cls``."""
    check = EXERCISES[exercise](cls)
    try:
        CHECK_SETTINGS(check)()
    except Exception as error:          # the learner's code may raise anything
        return Result(exercise, False, _describe_failure(error))
    return Result(exercise, True, f"{EXAMPLES} drawn inputs")


def _load(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"no such exercise file: {path}")
    spec = importlib.util.spec_from_file_location(f"exercise_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _describe_failure(error: BaseException) -> str:
    if isinstance(error, AssertionError):
        lines = str(error).splitlines()
    else:                               # a crash: say where in the learner's code
        frames = traceback.extract_tb(error.__traceback__)
        where = next((f"{Path(frame.filename).name}, line {frame.lineno}: {frame.line}"
                      for frame in reversed(frames) if "tinynet" not in Path(frame.filename).parts
                      and "hypothesis" not in frame.filename), "")
        lines = [f"{type(error).__name__}: {error}"] + ([f"  at {where}"] if where else [])
    notes = "\n".join(getattr(error, "__notes__", []))
    smallest = notes.split("\nExplanation:")[0].strip()   # hypothesis's shrunk example
    if smallest:
        lines += ["smallest failing case found by hypothesis:"] + [
            "  " + line for line in smallest.splitlines()]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tinynet.exercises",
        description="Check backward-pass exercises with property-based gradient checks.")
    parser.add_argument("files", nargs="+", help="exercise files, e.g. exercises/linear.py")
    args = parser.parse_args(argv)
    all_passed = True
    for path in args.files:
        try:
            results = check_file(path)
        except Exception as error:      # a missing file, a syntax error, no exercise class
            print(f"{path}: cannot check it: {type(error).__name__}: {error}")
            all_passed = False
            continue
        for result in results:
            status = "passed" if result.passed else "FAILED"
            print(f"{path}: {result.exercise} {status}" +
                  (f" ({result.detail})" if result.passed else ""))
            if not result.passed:
                print("\n".join("    " + line for line in result.detail.splitlines()))
            all_passed &= result.passed
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
