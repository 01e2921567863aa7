"""docs/break_it.md: each plausible backward bug is caught by the gradient check.

The page runs as written (blocks, outputs and quotes checked as for the tour); then, from the
page's own namespace, each buggy layer's report must show a large error (> 1e-2) and its
correct counterpart's a small one (< 1e-6)."""
import os

import pytest

from tests.docs.pages import DOCS, run_page

# (report of the buggy version, report of the correct version), names defined by the page
EXERCISES = [
    ("transpose_bug", "transpose_fixed"),      # a missing transpose (Linear's dL/dW)
    ("one_over_n_bug", "one_over_n_fixed"),    # a forgotten 1/N (cross-entropy)
    ("sign_bug", "sign_fixed"),                # a sign error (sigmoid)
    ("batchnorm_bug", "batchnorm_fixed"),      # BatchNorm without the mean-gradient term
    ("softmax_bug", "softmax_fixed"),          # E5's softmax over the batch axis
]


@pytest.fixture(scope="module")
def page_namespace(tmp_path_factory):
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("break_it"))
    try:
        return run_page(DOCS / "break_it.md")
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("bug, fixed", EXERCISES, ids=[bug for bug, _ in EXERCISES])
def test_the_gradient_check_catches_the_bug(page_namespace, bug, fixed):
    buggy_report, correct_report = page_namespace[bug], page_namespace[fixed]
    assert buggy_report.max_error > 1e-2, f"{bug}: {buggy_report}"
    assert correct_report.max_error < 1e-6, f"{fixed}: {correct_report}"


def test_the_reported_errors_match_their_closed_forms(page_namespace):
    # a forgotten 1/N with N = 4: (N - 1) / (N + 1); a sign error: exactly 1
    assert page_namespace["one_over_n_bug"].errors["prediction"] == pytest.approx(3 / 5)
    assert page_namespace["sign_bug"].errors["input"] == pytest.approx(1.0)


def test_only_the_broken_gradient_is_flagged(page_namespace):
    transpose = page_namespace["transpose_bug"].errors
    assert transpose["weight"] > 1e-2 and transpose["input"] < 1e-6 and transpose["bias"] < 1e-6
    batchnorm = page_namespace["batchnorm_bug"].errors
    assert batchnorm["input"] > 1e-2 and batchnorm["weight"] < 1e-6 and batchnorm["bias"] < 1e-6


def test_the_stride_bug_hides_from_one_shape_and_is_shrunk_to_stride_two(page_namespace):
    assert page_namespace["stride_fixed_shape"].passed(1e-6)
    failure = page_namespace["stride_failure"]
    assert "disagrees with finite differences" in str(failure)
    assert "stride=(2, 2)" in failure.__notes__[0] and "input_size=(3, 3)" in failure.__notes__[0]
