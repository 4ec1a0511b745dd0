"""Every code line of the built site fits the column that shows it (see CODE_COLUMNS)."""

import html
import re
from pathlib import Path

from apipatterns.render import CODE_COLUMNS

PRE = re.compile(r"<pre[ >].*?</pre>", re.S)
# A highlighted block: its classes, an optional title, then the <pre>.
BLOCK = re.compile(
    r'<div class="(?P<classes>[^"]*\bhighlight\b[^"]*)">\s*'
    r'(?:<span class="filename">.*?</span>\s*)?(?P<pre><pre[ >].*?</pre>)',
    re.S,
)


def test_no_code_line_is_wider_than_the_code_column(site: Path):
    too_wide, blocks = [], 0
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        found = list(BLOCK.finditer(text))
        assert len(found) == len(PRE.findall(text)), f"{page}: a <pre> outside a code block"
        for block in found:
            blocks += 1
            if "wrap" in block["classes"].split():  # the browser wraps these (extra.css)
                continue
            code = html.unescape(re.sub(r"<[^>]+>", "", block["pre"]))
            too_wide += [
                f"{page.relative_to(site)}: {len(line)}: {line[:70]}"
                for line in code.splitlines()
                if len(line) > CODE_COLUMNS
            ]
    assert blocks > 150
    assert too_wide == [], f"code lines over {CODE_COLUMNS} characters: wrap them at the source"
