"""Every layer test runs on both kernel paths (see the kernel_path fixture in tests/conftest.py)."""
import pytest


@pytest.fixture(autouse=True)
def _every_kernel_path(kernel_path):
    return kernel_path
