"""python -m tinynet.exercises: fails on every untouched skeleton, passes on a correct
solution (tests/exercise_solutions), names the exercise, and shows hypothesis's smallest
failing case for a bug that hides at stride 1."""
from pathlib import Path

import pytest

from tinynet import exercises

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"linear": "Linear", "relu": "ReLU", "softmax_cross_entropy": "SoftmaxCrossEntropy",
         "batchnorm": "BatchNorm1d", "conv2d": "Conv2d"}


def test_there_is_one_skeleton_per_exercise():
    skeletons = sorted(path.stem for path in (ROOT / "exercises").glob("*.py")
                       if path.stem != "__init__")
    assert skeletons == sorted(NAMES)
    assert sorted(exercises.EXERCISES) == sorted(NAMES.values())


@pytest.mark.parametrize("stem", NAMES)
def test_an_untouched_skeleton_fails_and_says_which(stem, capsys):
    path = ROOT / "exercises" / f"{stem}.py"
    assert exercises.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: {NAMES[stem]} FAILED" in out
    assert "NotImplementedError: exercise" in out and f"at {stem}.py, line" in out
    assert "smallest failing case found by hypothesis:" in out


@pytest.mark.parametrize("stem", NAMES)
def test_a_correct_solution_passes(stem, capsys):
    path = ROOT / "tests" / "exercise_solutions" / f"{stem}.py"
    assert exercises.main([str(path)]) == 0
    assert f"{path}: {NAMES[stem]} passed ({exercises.EXAMPLES} drawn inputs)" in (
        capsys.readouterr().out)


def test_col2im_without_the_stride_fails_with_a_stride_above_one():
    from tests.exercise_solutions.conv2d import Conv2d

    class Col2imWithoutStride(Conv2d):
        col2im_step = (1, 1)        # adds window (oh, ow) at (oh + i, ow + j): right for stride 1

    result = exercises.check_class("Conv2d", Col2imWithoutStride)
    assert not result.passed
    assert "backward of Col2imWithoutStride() disagrees with finite differences" in result.detail
    smallest = result.detail.split("smallest failing case found by hypothesis:")[1]
    assert "stride=(1, 1)" not in smallest and "stride=(" in smallest


def test_files_that_cannot_be_checked_say_why(tmp_path, capsys):
    (tmp_path / "empty.py").write_text("x = 1\n")
    (tmp_path / "broken.py").write_text("class Linear(:\n")
    paths = [str(tmp_path / name) for name in ("empty.py", "broken.py", "missing.py")]
    assert exercises.main(paths) == 1
    out = capsys.readouterr().out
    assert "empty.py: cannot check it: LookupError: " in out and "defines none of" in out
    assert "broken.py: cannot check it: SyntaxError" in out
    assert "missing.py: cannot check it: FileNotFoundError: no such exercise file" in out
