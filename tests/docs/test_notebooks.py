"""The notebooks in docs/notebooks are the documentation pages, and they run: each is what
tests/docs/notebooks.py makes of its page, each executes in a fresh Jupyter kernel (nbclient)
that imports this checkout's tinynet, its printed outputs are those of that fresh run, and the
tour's figure is shown inline (nothing switched matplotlib's backend behind the notebook's
back). Regenerate them with ``python -m tests.docs.notebooks``."""
import nbformat
import pytest

from tests.docs import notebooks
from tests.docs.pages import DOCS, ROOT, read_blocks

REGENERATE = "regenerate them: python -m tests.docs.notebooks"


def cells(notebook):
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


@pytest.mark.parametrize("page", notebooks.PAGES)
def test_the_committed_notebook_is_made_from_its_page(page):
    path = notebooks.notebook_path(page)
    assert path.is_file(), f"{path.name} is missing; {REGENERATE}"
    committed = nbformat.read(path, as_version=4)
    assert cells(committed) == cells(notebooks.make_notebook(page)), (
        f"{path.name} differs from docs/{page}; {REGENERATE}")


@pytest.mark.parametrize("page", notebooks.PAGES)
def test_runnable_blocks_become_code_cells_and_the_rest_stays_text(page):
    notebook = notebooks.make_notebook(page)
    code = [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]
    blocks = read_blocks(DOCS / page)
    assert code == [block.text.strip() for block in blocks if block.quote_of is None]
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    for block in blocks:
        if block.quote_of is not None:
            assert block.text.strip() in text            # shown, as Markdown
        if block.output is not None:
            assert "```output" not in text               # the notebook prints its own
    assert "](break_it.md" not in text and "](backprop.md" not in text   # links to notebooks


@pytest.mark.parametrize("page", notebooks.PAGES)
def test_the_notebook_executes_and_prints_what_is_committed(page, tmp_path):
    notebook = notebooks.make_notebook(page)
    notebook.cells.append(nbformat.v4.new_code_cell("import tinynet; print(tinynet.__file__)"))
    executed = notebooks.execute(notebook, tmp_path)
    *printed, tinynet_file = notebooks.printed(executed)
    assert tinynet_file.strip().startswith(str(ROOT)), tinynet_file
    committed = nbformat.read(notebooks.notebook_path(page), as_version=4)
    assert printed == notebooks.printed(committed), f"stale outputs in the notebook; {REGENERATE}"
    if page == "backprop.md":
        images = [output for cell in executed.cells if cell.cell_type == "code"
                  for output in cell.outputs if "image/png" in output.get("data", {})]
        assert len(images) == 1, "the vanishing-gradient figure is not shown inline"
