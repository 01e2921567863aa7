"""The README's 20-line example is examples/quickstart.py, verbatim, and it runs."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import data_dir

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return next(block for block in blocks if "load_mnist" in block)


def test_readme_example_is_the_quickstart_script():
    assert readme_example() in (ROOT / "examples" / "quickstart.py").read_text()


@pytest.mark.slow
@pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set (MNIST files needed)")
def test_quickstart_trains_to_96_percent():
    output = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")],
                            capture_output=True, text=True, check=True, timeout=600).stdout
    assert "total parameters: 101,770" in output
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", output).group(1))
    assert accuracy > 96.0   # measured 97.07% (seed 0, 3 epochs)


def test_quickstart_help_prints_and_loads_nothing():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--help"],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "", "TINYNET_CACHE": "/nonexistent"})
    assert result.returncode == 0 and "20-line example" in result.stdout
