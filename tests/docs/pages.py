"""Run the Python in a documentation page the way a reader would, so the page cannot rot.

A page is Markdown. Its fenced blocks are treated as follows:

- ```` ```python ```` blocks run in order, all in one namespace per page (a later block uses the
  names an earlier one defined, as in a notebook). A block may ``assert``.
- An ```` ```output ```` block right after a python block (only blank lines between) is what
  that block prints; the printed text must match it line by line (trailing spaces ignored).
  This is how a page shows numbers from an actual run and keeps them true.
- A python block directly preceded by ``<!-- quote: tinynet/some/file.py -->`` is a quote of
  the package's code: it is not run, but its lines must appear, contiguous and in order, in that
  file (indentation ignored), so a quote cannot drift from the code it shows.
- Any other block (math in a plain ```` ``` ```` block, shell commands) is left alone.

A failure names the page, the python block's number (counting from 1, quotes included) and
its line in the page.
"""
from __future__ import annotations

import contextlib
import io
import linecache
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
QUOTE_MARK = re.compile(r"^<!--\s*quote:\s*(\S+)\s*-->$")


@dataclass
class Block:
    info: str           # the word after the opening fence: "python", "output", "" ...
    text: str
    line: int           # line of the opening fence in the page, from 1
    before: str         # the last non-blank line before the block ("```" right after a block)
    output: str = None  # for a python block: the output block that follows it, if any

    @property
    def quote_of(self):
        """"tinynet/nn/linear.py" when the block is marked as a quote of the package's code."""
        mark = QUOTE_MARK.match(self.before)
        return mark.group(1) if mark else None


def fenced_blocks(page: Path) -> list:
    """Every fenced block of the page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, index, before = [], 0, ""
    while index < len(lines):
        if not lines[index].startswith("```"):
            before = lines[index].strip() or before
            index += 1
            continue
        info, start, body = lines[index][3:].strip().split(" ")[0], index + 1, []
        index += 1
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        if index == len(lines):
            raise ValueError(f"{page.name}: the block opened at line {start} is never closed")
        blocks.append(Block(info, "\n".join(body) + "\n", start, before))
        before = "```"
        index += 1
    return blocks


def read_blocks(page: Path) -> list:
    """The page's python blocks, each with the output block that follows it (if any)."""
    python_blocks, previous = [], None
    for block in fenced_blocks(page):
        if block.info == "output":
            if previous is None or previous.info != "python" or block.before != "```":
                raise ValueError(f"{page.name}: the output block at line {block.line} does not "
                                 f"directly follow a python block")
            previous.output = block.text
        elif block.info == "python":
            python_blocks.append(block)
        previous = block
    return python_blocks


def run_page(page: Path) -> dict:
    """Run every python block of ``page`` in order (checking quotes and outputs); returns the
    namespace the blocks shared. Fails the calling test naming the page and the block."""
    namespace = {"__name__": "docs_" + page.stem}
    for number, block in enumerate(read_blocks(page), start=1):
        where = f"{page.name}, python block {number} (line {block.line})"
        if block.quote_of is not None:
            _check_quote(block, where)
            continue
        filename = f"<{page.name} block {number}>"
        linecache.cache[filename] = (len(block.text), None, block.text.splitlines(True), filename)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(block.text, filename, "exec"), namespace)
        except Exception:
            pytest.fail(f"{where} failed:\n{traceback.format_exc()}", pytrace=False)
        if block.output is not None:
            _check_output(block.output, printed.getvalue(), where)
    return namespace


def _check_output(expected: str, got: str, where: str) -> None:
    expected_lines = [line.rstrip() for line in expected.rstrip().splitlines()]
    got_lines = [line.rstrip() for line in got.rstrip().splitlines()]
    if expected_lines != got_lines:
        pytest.fail(f"{where}: the page shows this output:\n" + "\n".join(expected_lines)
                    + "\nbut the block printed:\n" + "\n".join(got_lines), pytrace=False)


def _check_quote(block: Block, where: str) -> None:
    source = ROOT / block.quote_of
    if not source.is_file():
        pytest.fail(f"{where} quotes {block.quote_of}, which does not exist", pytrace=False)
    file_lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines()]
    quote_lines = [line.strip() for line in block.text.rstrip().splitlines()]
    size = len(quote_lines)
    if not any(file_lines[start:start + size] == quote_lines
               for start in range(len(file_lines) - size + 1)):
        pytest.fail(f"{where} quotes {block.quote_of}, but these lines are no longer in it "
                    f"(update the quote):\n{block.text}", pytrace=False)
