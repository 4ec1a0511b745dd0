"""The blog's RSS feeds, corrected after either generator has written them.

Both put an author's name in `<author>`, which RSS 2.0 reserves for an email address; the
RSS Advisory Board's best-practices profile gives a name to Dublin Core's `<dc:creator>`.
"""

import re
from pathlib import Path

DC = "http://purl.org/dc/elements/1.1/"
NAMED_AUTHOR = re.compile(r"<author>([^<@]*)</author>")  # without an @ it is a name


def with_creators(rss: str) -> str:
    """`rss` with every author given by name as a `<dc:creator>`, the namespace declared."""
    fixed = NAMED_AUTHOR.sub(r"<dc:creator>\1</dc:creator>", rss)
    if fixed != rss and f'xmlns:dc="{DC}"' not in fixed:
        fixed = fixed.replace("<rss ", f'<rss xmlns:dc="{DC}" ', 1)
    return fixed


def corrected_feeds(site: Path) -> dict[Path, str]:
    """The RSS feeds of a built site that need `with_creators`, with their corrected text."""
    feeds = {}
    for path in sorted(site.glob("feed_rss_*.xml")):
        text = path.read_text(encoding="utf-8")
        if (fixed := with_creators(text)) != text:
            feeds[path] = fixed
    return feeds
