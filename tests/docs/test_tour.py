"""The guided tour (docs/backprop.md) runs as written: every python block, in order, in one
namespace per page; every output block matches what its block printed; every quote of the
package's code is still in the file it quotes. See tests/docs/pages.py for the rules."""
import pytest

from tests.docs.pages import DOCS, read_blocks, run_page

TOUR_PAGES = ["backprop.md", "write_your_layer.md"]


@pytest.mark.parametrize("page", TOUR_PAGES)
def test_every_python_block_of_the_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)             # blocks may write files (plots)
    run_page(DOCS / page)


def test_the_tour_covers_each_layer_with_a_numerical_check():
    blocks = read_blocks(DOCS / "backprop.md")
    code = "\n".join(block.text for block in blocks if block.quote_of is None)
    for checked in ("check_module(Linear", "check_module(ReLU", "check_module(Sigmoid",
                    "check_loss(CrossEntropyLoss", "check_module(BatchNorm1d",
                    "check_module(Conv2d", "numerical_gradient("):
        assert checked in code, f"the tour no longer runs {checked}...)"
    assert sum(block.output is not None for block in blocks) >= 5
    assert sum(block.quote_of is not None for block in blocks) >= 5


@pytest.mark.parametrize("page", ["backprop.md", "break_it.md", "write_your_layer.md"])
def test_every_quote_is_captioned_as_a_quote(page):
    # A reader who pastes a quote gets an IndentationError; the caption says it is not code
    # to run. (The HTML comment that marks a quote for CI is invisible on the rendered page.)
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    for block in read_blocks(DOCS / page):
        if block.quote_of is None:
            continue
        before_marker = [line for line in lines[:block.line - 2] if line.strip()]
        caption = f"*Quote from `{block.quote_of}`"
        assert before_marker[-1].startswith(caption), (
            f"{page}, line {block.line}: the quote of {block.quote_of} needs a caption line "
            f"starting with {caption!r} before its marker")


# --- the page runner itself: each rule can fail, and says where ------------------------------

def write_page(tmp_path, text):
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_a_failing_block_fails_with_the_page_and_block_number(tmp_path):
    page = write_page(tmp_path, "```python\nx = 1\n```\n\ntext\n\n```python\nassert x == 2\n```\n")
    with pytest.raises(pytest.fail.Exception, match=r"page.md, python block 2 \(line 7\)"):
        run_page(page)


def test_blocks_share_one_namespace_in_order(tmp_path):
    page = write_page(tmp_path, "```python\nx = 1\n```\n```python\ny = x + 1\n```\n")
    assert run_page(page)["y"] == 2


def test_a_wrong_output_block_fails(tmp_path):
    page = write_page(tmp_path, "```python\nprint(1 + 1)\n```\n\n```output\n3\n```\n")
    with pytest.raises(pytest.fail.Exception, match="the page shows this output"):
        run_page(page)
    page = write_page(tmp_path, "```python\nprint(1 + 1)\n```\n\n```output\n2\n```\n")
    run_page(page)


def test_an_output_block_must_follow_a_python_block(tmp_path):
    page = write_page(tmp_path, "```python\nx = 1\n```\nprose\n```output\n2\n```\n")
    with pytest.raises(ValueError, match="does not directly follow"):
        run_page(page)


def test_a_quote_must_still_be_in_the_file_it_quotes(tmp_path):
    good = ("<!-- quote: tinynet/nn/module.py -->\n```python\n"
            "        for layer in reversed(self.layers):\n"
            "            grad_out = layer.backward(grad_out)\n```\n")
    run_page(write_page(tmp_path, good))
    drifted = good.replace("reversed(self.layers)", "self.layers")
    with pytest.raises(pytest.fail.Exception, match="no longer in it"):
        run_page(write_page(tmp_path, drifted))


def test_quotes_are_not_run_and_other_blocks_are_ignored(tmp_path):
    page = write_page(tmp_path, "<!-- quote: tinynet/nn/module.py -->\n```python\n"
                                "class Sequential(Module):\n```\n"
                                "```bash\nexit 1\n```\n```\nnot python\n```\n")
    run_page(page)
