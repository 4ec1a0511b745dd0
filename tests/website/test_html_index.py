"""The link checker itself finds what is broken (so a green link test means something)."""

from pathlib import Path

from website.html_index import broken_links, parse


def test_broken_links_and_anchors_are_found(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<h2 id="top">Top</h2><a href="a/">ok</a><a href="a/#here">ok</a>'
        '<a href="a/#gone">bad anchor</a><a href="missing/">bad page</a>'
        '<a href="/site/a/">ok absolute</a><a href="https://example.org/">external</a>'
        '<link rel="stylesheet" href="style.css"><a href="#top">ok</a>'
    )
    (tmp_path / "a" / "index.html").write_text('<p id="here">Here</p><a href="../#top">ok</a>')
    pages = {path: parse(path) for path in tmp_path.rglob("*.html")}
    assert broken_links(tmp_path, pages, "/site/") == [
        "/: a/#gone (no anchor #gone)",
        "/: missing/ (no missing/index.html)",
        "/: style.css (no style.css)",
    ]
