"""The RSS correction both builds get: authors by name become `<dc:creator>`."""

import xml.etree.ElementTree as ET
from pathlib import Path

from apipatterns.feeds import DC, corrected_feeds, with_creators

RSS = (
    '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
    "<channel><item><title>A</title><author>Mira Okafor</author><author>Tomás Keller</author>"
    "</item><item><title>B</title><author>editors@example.org (Priya Nair)</author></item>"
    "</channel></rss>"
)


def test_names_become_creators_and_addresses_stay_authors():
    items = ET.fromstring(with_creators(RSS)).iter("item")
    first, second = items
    assert [e.text for e in first.iter(f"{{{DC}}}creator")] == ["Mira Okafor", "Tomás Keller"]
    assert first.find("author") is None
    assert second.find("author").text == "editors@example.org (Priya Nair)"


def test_the_namespace_is_declared_once():
    once = with_creators(RSS)
    assert once.count(f'xmlns:dc="{DC}"') == 1
    assert with_creators(once) == once
    declared = RSS.replace('version="2.0"', f'version="2.0" xmlns:dc="{DC}"')
    assert with_creators(declared).count("xmlns:dc=") == 1


def test_a_feed_without_named_authors_is_left_alone(tmp_path: Path):
    (tmp_path / "feed_rss_created.xml").write_text(RSS)
    (tmp_path / "feed_rss_updated.xml").write_text(RSS.replace("<author>Mira Okafor</author>", ""))
    (tmp_path / "feed_json_created.json").write_text("{}")
    plain = RSS.replace("<author>Mira Okafor</author><author>Tomás Keller</author>", "")
    (tmp_path / "feed_rss_plain.xml").write_text(plain)
    assert sorted(p.name for p in corrected_feeds(tmp_path)) == [
        "feed_rss_created.xml",
        "feed_rss_updated.xml",
    ]
