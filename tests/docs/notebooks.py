"""The documentation pages as Jupyter notebooks, made from the Markdown: one source of truth.

    python -m tests.docs.notebooks        # rewrite docs/notebooks/*.ipynb, executed

Each page of ``PAGES`` becomes ``docs/notebooks/<page>.ipynb`` through jupytext's Markdown
reader, after three changes that make the page a notebook a learner can run top to bottom:

- runnable ```` ```python ```` blocks become code cells (jupytext's rule);
- quotes of the package's code (tests/docs/pages.py) and blocks in other languages (shell
  commands) stay Markdown, kept inside ``<!-- #region -->`` markers: pasted or run, they would
  fail (a quote is an indented excerpt of a class);
- ```` ```output ```` blocks are dropped: the notebook shows what its cells really print.
  Relative links are rewritten to work from ``docs/notebooks/``.

The notebooks are committed executed (without stderr, whose warnings name this machine's
paths), so GitHub shows their outputs and figures; the tests
(tests/docs/test_notebooks.py) check that they are what this module makes of the pages, that
each executes, and that its printed outputs are those of a fresh run.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from tests.docs.pages import DOCS, ROOT, fenced_blocks

PAGES = ["backprop.md", "break_it.md", "write_your_layer.md"]
NOTEBOOKS = DOCS / "notebooks"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")
TIMEOUT = 300          # seconds per cell; the slowest (a short training run) takes a few


def notebook_path(page: str) -> Path:
    return NOTEBOOKS / (Path(page).stem + ".ipynb")


def _relinked(line: str) -> str:
    """A link relative to docs/ made relative to docs/notebooks/ (a page -> its notebook)."""
    def relink(match):
        target, _, anchor = match.group(1).partition("#")
        anchor = "#" + anchor if anchor else ""
        if target in PAGES:
            return f"]({Path(target).stem}.ipynb{anchor})"
        if target.startswith("notebooks/"):
            return f"]({target[len('notebooks/'):]}{anchor})"
        return f"](../{target}{anchor})"
    return LINK.sub(relink, line)


def notebook_markdown(page: str) -> str:
    """The page as jupytext Markdown: output blocks dropped, non-runnable blocks in regions."""
    path = DOCS / page
    lines = path.read_text(encoding="utf-8").splitlines()
    wrap, drop = {}, set()
    for block in fenced_blocks(path):
        start = block.line - 1                                 # the opening fence, 0-based
        end = start + len(block.text.splitlines()) + 1         # the closing fence
        if block.info == "output":
            drop.update(range(start, end + 1))
        elif block.info != "python" or block.quote_of is not None:
            wrap[start], wrap[end] = "open", "close"
    out = [f"<!-- Made from docs/{page} by `python -m tests.docs.notebooks`: edit the page, "
           f"not this notebook. -->", ""]
    for index, line in enumerate(lines):
        if index in drop:
            continue
        if wrap.get(index) == "open":
            out.append("<!-- #region -->")
        out.append(line if index in wrap else _relinked(line))
        if wrap.get(index) == "close":
            out.append("<!-- #endregion -->")
    return "\n".join(out) + "\n"


def make_notebook(page: str):
    """The unexecuted notebook of ``page``."""
    notebook = jupytext.reads(notebook_markdown(page), fmt="md")
    notebook.metadata = notebook_metadata()
    return notebook


@contextlib.contextmanager
def kernel_environment():
    """What the kernel inherits: this checkout's tinynet first on the path (not another
    installed copy), and matplotlib's inline backend, as in Jupyter (CI sets Agg)."""
    saved = {key: os.environ.get(key) for key in ("PYTHONPATH", "MPLBACKEND")}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute(notebook, workdir):
    """Run every cell in a fresh kernel, in ``workdir`` (cells may write files); raises
    nbclient's CellExecutionError naming the failing cell."""
    notebook = nbformat.from_dict(notebook)
    with kernel_environment():
        NotebookClient(notebook, timeout=TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    notebook.metadata = notebook_metadata()
    return notebook


def notebook_metadata() -> dict:
    """Kernel metadata without the versions of this machine, so a rerun changes nothing."""
    return {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}}


def printed(notebook) -> list:
    """Each code cell's printed text (stdout), the part of its outputs a rerun reproduces."""
    return ["".join(output.get("text", "") for output in cell.get("outputs", [])
                    if output.get("output_type") == "stream" and output.get("name") == "stdout")
            for cell in notebook.cells if cell.cell_type == "code"]


def main(pages=PAGES) -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    for page in pages:
        with tempfile.TemporaryDirectory() as workdir:
            notebook = execute(make_notebook(page), workdir)
        for cell in notebook.cells:          # warnings name this machine's paths: not kept
            if cell.cell_type == "code":
                cell.outputs = [output for output in cell.outputs
                                if output.get("name") != "stderr"]
        nbformat.write(notebook, notebook_path(page))
        print(f"wrote {notebook_path(page).relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:] or PAGES)
