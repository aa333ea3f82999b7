"""The console's SVG charts (issue #18.6): well-formed SVG whatever the labels, each bar's value in its title."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from oncall.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_bars_scale_to_the_largest_and_escape_their_labels() -> None:
    hostile = '</title></rect><script>alert(1)</script><rect x="'
    svg = parse(charts.bars([("db", 8), (hostile, 2)], title="Alert groups per integration"))
    assert svg.get("role") == "img" and svg.get("aria-label") == "Alert groups per integration"
    assert svg.find(f".//{SVG}script") is None
    bars = svg.findall(f"{SVG}rect")
    assert [b.findtext(f"{SVG}title") for b in bars] == ["db: 8", f"{hostile}: 2"]
    widths = [float(b.get("width", "0")) for b in bars]
    assert widths[0] == 4 * widths[1]


def test_columns_have_one_bar_per_slot_even_when_all_are_zero() -> None:
    points = [(f"2026-12-0{d}", f"Dec 0{d}", 0) for d in range(1, 8)]
    svg = parse(charts.columns(points, title="Alert groups per day, 7d"))
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 7 and {b.get("height") for b in bars} == {"0.0"}
    assert bars[0].findtext(f"{SVG}title") == "2026-12-01: 0"
    ticks = [t.text for t in svg.findall(f"{SVG}text")][1:]  # after "max"
    assert ticks[0] == "Dec 01" and ticks[-1] == "Dec 07"
