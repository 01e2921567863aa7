"""The README's results table quotes the committed reports: every figure it gives with two or
four decimals (a table value, not a count or a rounded difference) must appear in the report its
row links to, so regenerating a report without updating the README fails here."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def results_rows():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Measured results"):]
    section = section[:section.index("\n## ", 1)]
    for line in section.splitlines():
        link = re.search(r"\]\((docs/results/[^)]+/report\.md)\)", line)
        if line.startswith("| [") and link:
            yield line, ROOT / link.group(1)


def test_every_linked_report_exists_and_holds_the_figures_quoted_from_it():
    rows = list(results_rows())
    assert len(rows) == 6
    for line, report in rows:
        text = report.read_text()
        quoted = re.findall(r"(?<![\d.])\d+\.(?:\d{2}|\d{4})(?![\d])", line.split("|")[3])
        assert quoted, f"no figures quoted for {report}"
        missing = [number for number in quoted if number not in text]
        assert not missing, f"{report.relative_to(ROOT)} does not contain {missing}"
