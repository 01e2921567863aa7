import numpy as np
import pytest
from threadpoolctl import threadpool_info

from tinynet import threads


def _blas_threads():
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_set_threads_limits_the_loaded_blas_and_is_remembered():
    np.ones((2, 2)) @ np.ones((2, 2))
    before = threads.current()
    try:
        threads.set_threads(1)
        assert threads.current() == 1 and _blas_threads() == {1}
    finally:
        threads.set_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_threads_refuses_what_is_not_a_positive_integer(bad):
    with pytest.raises(ValueError, match="positive integer"):
        threads.set_threads(bad)


def test_usable_cores_is_at_least_one():
    assert threads.usable_cores() >= 1
