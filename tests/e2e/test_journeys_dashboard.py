"""Journeys through the statistics pages in Chromium: the dashboard's charts really draw, follow
the filters and drill into the table; the counter page counts what the table lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import Portal

pytestmark = pytest.mark.e2e

CHARTS = ("volume", "status", "payment_method", "country", "amount", "days_to_pay", "settlement")
KEY_FIGURES = (
    "volume", "count", "average_order_value", "approval_rate", "refund_rate",
    "open_receivables", "overdue_amount", "dso",
)  # fmt: skip

# For each chart: how many pixels of its canvases have one of the colours its series are drawn
# in (the bars and segments themselves, not the axes or the legend text alone).
PAINTED = """
() => {
  const rgb = (colour) => {
    const hex = /^#([0-9a-f]{6})$/i.exec(colour || '');
    if (hex) return [0, 2, 4].map((i) => parseInt(hex[1].slice(i, i + 2), 16));
    const fn = /rgba?\\((\\d+),\\s*(\\d+),\\s*(\\d+)/.exec(colour || '');
    return fn ? fn.slice(1, 4).map(Number) : null;
  };
  const counts = {};
  document.querySelectorAll('[data-chart]').forEach((element) => {
    const chart = echarts.getInstanceByDom(element);
    if (!chart) { counts[element.dataset.chart] = -1; return; }
    const colours = [];
    for (const series of chart.getOption().series) {
      colours.push(rgb(series.itemStyle && series.itemStyle.color));
      for (const item of series.data || []) {
        if (item && item.itemStyle) colours.push(rgb(item.itemStyle.color));
      }
    }
    const wanted = colours.filter(Boolean);
    let painted = 0;
    element.querySelectorAll('canvas').forEach((canvas) => {
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] < 250) continue;
        if (wanted.some((c) => Math.abs(c[0] - data[i]) + Math.abs(c[1] - data[i + 1])
                               + Math.abs(c[2] - data[i + 2]) < 12)) painted++;
      }
    });
    counts[element.dataset.chart] = painted;
  });
  return counts;
}
"""

CANVAS_DIGEST = """
(id) => {
  const canvas = document.querySelector('#chart-' + id + ' canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let hash = 0;
  for (let i = 0; i < data.length; i += 16) hash = (hash * 31 + data[i] + data[i + 3]) | 0;
  return hash;
}
"""


def _settled_dashboard(page: Any) -> None:
    """Wait until the statistics job is done and every chart has painted its series."""
    page.locator("#stats-status [data-part='done']").wait_for(state="visible", timeout=60_000)
    page.wait_for_function(
        f"() => Object.values(({PAINTED})()).every((n) => n > 200)", timeout=15_000
    )
    # the last animation frame has settled when two reads agree
    page.wait_for_function(
        f"""() => {{
          const now = JSON.stringify(({PAINTED})());
          const same = window.__lastPaint === now;
          window.__lastPaint = now;
          return same;
        }}""",
        polling=200,
    )


def _key_figure(page: Any, key: str) -> str:
    text: str = page.locator(f"[data-figure='{key}'] [data-bind='value']").inner_text()
    return text.strip()


def _count(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def test_dashboard_draws_every_chart_and_the_key_figures(
    open_as: Any, portal_server: Portal
) -> None:
    page = open_as("admin", "/")
    _settled_dashboard(page)
    painted = page.evaluate(PAINTED)
    assert set(painted) == set(CHARTS)
    assert all(count > 200 for count in painted.values()), painted
    for key in KEY_FIGURES:
        value = _key_figure(page, key)
        assert value and "…" not in value and re.search(r"\d", value), (key, value)
    assert page.locator("[data-part='partial']:visible").count() == 0
    # the count agrees with the table's own count for the same filters and currency
    currency = page.locator("#dashboard").get_attribute("data-currency")
    count = _count(_key_figure(page, "count"))
    assert count > 0
    link = page.get_by_role("link", name="Show these transactions").get_attribute("href")
    page.goto(f"{portal_server.url}{link}&currency={currency}")
    assert _count(page.locator("#transactions-count").inner_text()) == count


def test_a_filter_change_redraws_the_charts_and_updates_the_url(open_as: Any) -> None:
    page = open_as("admin", "/")
    _settled_dashboard(page)
    count_before = _count(_key_figure(page, "count"))
    # a filter: only Austria, applied through the form
    page.locator("#filter-country").click()
    page.get_by_role("checkbox", name="Austria").check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("country") == ["AT"])
    _settled_dashboard(page)
    count_after = _count(_key_figure(page, "count"))
    assert 0 < count_after < count_before
    countries = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-country'))"
        ".getOption().yAxis[0].data"
    )
    assert countries == ["Austria"]
    # a display choice redraws in place: the URL follows, the page is not reloaded
    page.evaluate("() => { window.__samePage = true; }")
    before = page.evaluate(CANVAS_DIGEST, "volume")
    page.locator("[data-granularity='week']").click()
    page.wait_for_url(lambda url: "granularity=week" in url)
    page.wait_for_function(f"() => ({CANVAS_DIGEST})('volume') !== {before}")
    assert page.evaluate("() => window.__samePage") is True
    assert "country=AT" in page.url
    assert page.locator("[data-granularity='week']").get_attribute("aria-current") == "true"


def test_a_chart_click_drills_into_the_table(open_as: Any, portal_server: Portal) -> None:
    page = open_as("admin", "/")
    _settled_dashboard(page)
    chart = page.locator("#chart-country")
    chart.scroll_into_view_if_needed()
    # the first bar: where ECharts drew it, and the filter and count it stands for
    bar = page.evaluate(
        """() => {
          const element = document.getElementById('chart-country');
          const chart = echarts.getInstanceByDom(element);
          const item = chart.getOption().series[0].data[0];
          const end = chart.convertToPixel({seriesIndex: 0}, [item.value, 0]);
          const start = chart.convertToPixel({seriesIndex: 0}, [0, 0]);
          const box = element.getBoundingClientRect();
          return {x: box.left + (start[0] + end[0]) / 2, y: box.top + end[1],
                  href: item.href, count: item.count};
        }"""
    )
    page.mouse.click(bar["x"], bar["y"])
    page.wait_for_url(lambda url: urlsplit(url).path == "/transactions")
    assert page.url == f"{portal_server.url}{bar['href']}"
    assert "country=" in page.url
    assert _count(page.locator("#transactions-count").inner_text()) == bar["count"]


def test_each_chart_has_the_same_figures_as_a_table(open_as: Any) -> None:
    page = open_as("admin", "/")
    _settled_dashboard(page)
    card = page.locator("[data-chart-card='country']")
    toggle = card.locator("button[data-action='table']")
    chart = card.locator("[data-chart]")
    assert chart.get_attribute("role") == "img"
    label = chart.get_attribute("aria-label") or ""
    assert label.startswith("Countries as a chart") and "Table" in label, label
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    table = card.locator("table")
    table.wait_for(state="visible")
    assert card.locator("[data-chart]").is_hidden()
    names = table.locator("tbody th").all_inner_texts()
    chart_names = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-country'))"
        ".getOption().yAxis[0].data"
    )
    assert names == chart_names
    toggle.click()  # and back to the chart
    chart.wait_for(state="visible")
    assert table.is_hidden() and toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    # the table's links are the chart's drill-downs, reachable without a pointer
    first_link = table.locator("tbody a").first
    href = first_link.get_attribute("href")
    first_link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: urlsplit(url).path == "/transactions")
    assert page.url.endswith(href or "?")


def test_the_status_legend_writes_shares_as_its_table_does(open_as: Any) -> None:
    """One digit after the point on every share, as the server writes them: "50.0%" and "33.3%"
    side by side, never "50%" beside "33.3%"; one status alone is "100.0%"."""
    page = open_as("admin", "/?status=captured&status=cancelled")
    _settled_dashboard(page)
    legend = page.evaluate(
        """() => {
          const option = echarts.getInstanceByDom(document.getElementById('chart-status'))
            .getOption();
          return option.series[0].data.map((item) => option.legend[0].formatter(item.name));
        }"""
    )
    card = page.locator("[data-chart-card='status']")
    card.locator("button[data-action='table']").click()
    rows = card.locator("table tbody tr")
    rows.first.wait_for(state="visible")
    table = [
        f"{row.locator('th').inner_text().strip()}  {row.locator('td').nth(1).inner_text().strip()}"
        for row in rows.all()
    ]
    assert legend == table
    assert len(legend) == 2 and all(re.search(r"\d\.\d%$", entry) for entry in legend), legend
    page.goto(page.url.replace("&status=cancelled", ""))
    _settled_dashboard(page)
    alone = page.evaluate(
        """() => {
          const option = echarts.getInstanceByDom(document.getElementById('chart-status'))
            .getOption();
          return option.legend[0].formatter(option.series[0].data[0].name);
        }"""
    )
    assert alone.endswith("  100.0%"), alone


def test_the_counter_page_counts_what_the_table_lists(open_as: Any) -> None:
    page = open_as("admin", "/counter")
    page.locator("#stats-status [data-part='done']").wait_for(state="visible", timeout=60_000)
    tiles = page.locator("[data-counter^='status-']")
    assert tiles.count() >= 3
    total = sum(int(tile.get_attribute("data-count") or 0) for tile in tiles.all())
    footer = page.locator("#counter-period-table tfoot tr")
    assert int(footer.get_attribute("data-count") or -1) == total
    # a filter through the form: the URL and the counters follow it
    page.locator("#filter-status").click()
    page.get_by_role("checkbox", name="Captured", exact=True).check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("status") == ["captured"])
    page.locator("#stats-status [data-part='done']").wait_for(state="visible", timeout=60_000)
    captured = page.locator("[data-counter='status-captured']")
    count = int(captured.get_attribute("data-count") or 0)
    assert 0 < count < total
    others = page.locator("[data-counter^='status-']:not([data-counter='status-captured'])")
    assert all(int(tile.get_attribute("data-count") or 0) == 0 for tile in others.all())
    # the tile's link opens the table with the same filters: it lists exactly that many
    captured.get_by_role("link").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/transactions")
    assert _count(page.locator("#transactions-count").inner_text()) == count


def test_the_dashboard_breaks_no_content_security_policy_while_used(open_as: Any) -> None:
    page = open_as("admin", "/")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    _settled_dashboard(page)
    for chart in ("volume", "country", "days_to_pay"):
        box = page.locator(f"#chart-{chart}")
        box.scroll_into_view_if_needed()
        box.hover()  # a tooltip
    page.locator("#filter-country").click()
    page.get_by_role("checkbox", name="Austria").check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("country") == ["AT"])
    _settled_dashboard(page)
    page.locator("[data-granularity='week']").click()
    page.wait_for_url(lambda url: "granularity=week" in url)
    page.wait_for_load_state("networkidle")
    page.goto(page.url.replace("/?", "/counter?", 1))  # the counter page, the same filters
    page.wait_for_load_state("networkidle")
    assert [m for m in messages if "Content Security Policy" in m] == [], messages


# Every text ECharts drew (axis labels, series and mark-line labels, legend, title) as a box in
# the chart's own pixels, read from zrender's display list; and, for a bar chart, each bar's box.
DRAWN = """
(id) => {
  const chart = echarts.getInstanceByDom(document.getElementById('chart-' + id));
  const zr = chart.getZr();
  const texts = [];
  for (const el of zr.storage.getDisplayList(true)) {
    if (el.type !== 'tspan' || el.ignore || el.invisible) continue;
    if (!String(el.style.text || '').trim()) continue;
    const rect = el.getBoundingRect().clone();
    if (el.transform) rect.applyTransform(el.transform);
    // a scrolling legend clips the items of its other pages: those are paged, not cut off
    let clip = null;
    for (let node = el; node; node = node.parent) {
      const path = node.getClipPath && node.getClipPath();
      if (path) {
        clip = path.getBoundingRect().clone();
        if (path.transform) clip.applyTransform(path.transform);
        else if (node.transform) clip.applyTransform(node.transform);
        break;
      }
    }
    if (clip && !clip.intersect(rect)) continue;
    texts.push({ text: String(el.style.text), x: rect.x, y: rect.y, w: rect.width, h: rect.height,
                 clip: clip && { x: clip.x, y: clip.y, w: clip.width, h: clip.height } });
  }
  const option = chart.getOption();
  const bars = [];
  const series = option.series[0];
  if (series.type === 'bar' && option.xAxis[0].type === 'category') {
    const labels = option.xAxis[0].data;
    const width = chart.getWidth();
    const at = (label) => chart.convertToPixel({ xAxisIndex: 0 }, label);
    const step = labels.length > 1 ? at(labels[1]) - at(labels[0]) : width;
    series.data.forEach((item, index) => {
      const value = typeof item === 'object' && item !== null ? item.value : item;
      if (!value) return;
      const [x, top] = chart.convertToPixel({ seriesIndex: 0 }, [labels[index], value]);
      const [, bottom] = chart.convertToPixel({ seriesIndex: 0 }, [labels[index], 0]);
      bars.push({ x: x - step / 2, y: top, w: step, h: bottom - top });
    });
  }
  return { width: zr.getWidth(), height: zr.getHeight(), texts, bars };
}
"""


def _overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["w"] - 1 and b["x"] < a["x"] + a["w"] - 1
        and a["y"] < b["y"] + b["h"] - 1 and b["y"] < a["y"] + a["h"] - 1
    )  # fmt: skip


@pytest.mark.parametrize("width", [1440, 390])
def test_no_key_figure_or_chart_text_is_cut_off_or_drawn_over_the_bars(
    open_as: Any, width: int
) -> None:
    page = open_as("admin", "/")
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
    page.reload()
    _settled_dashboard(page)
    truncated = page.evaluate(
        """() => [...document.querySelectorAll("[data-figure] [data-bind='value']")]
            .filter((value) => value.scrollWidth > value.clientWidth)
            .map((value) => value.textContent)"""
    )
    assert truncated == [], (width, truncated)
    for chart in CHARTS:
        page.locator(f"#chart-{chart}").scroll_into_view_if_needed()
        drawn = page.evaluate(DRAWN, chart)
        assert drawn["texts"], chart
        whole = {"x": 0, "y": 0, "w": drawn["width"], "h": drawn["height"]}
        cut = [
            box["text"] for box in drawn["texts"]
            for bound in [whole] + ([box["clip"]] if box["clip"] else [])
            if box["x"] < bound["x"] - 0.5 or box["y"] < bound["y"] - 0.5
            or box["x"] + box["w"] > bound["x"] + bound["w"] + 0.5
            or box["y"] + box["h"] > bound["y"] + bound["h"] + 0.5
        ]  # fmt: skip
        assert cut == [], (chart, width, cut)
        if chart == "days_to_pay":  # the median and due-date labels stay clear of the bars
            marks = [t for t in drawn["texts"] if t["text"].startswith(("Median", "Due"))]
            assert marks, drawn["texts"]
            on_bars = [m["text"] for m in marks for bar in drawn["bars"] if _overlaps(m, bar)]
            assert on_bars == [], (width, on_bars)


# For each visible figures table: do its row labels stay on one line, and are its first and last
# columns (the label and the total) inside the visible part of the scrolling box around it?
TABLE_FIT = """
(table) => {
  const box = table.parentElement.getBoundingClientRect();
  const rows = [...table.querySelectorAll('tbody tr')];
  const lines = (cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  };
  const wrapped = rows.map((row) => row.querySelector('th'))
    .filter((th) => th && lines(th) > 1).map((th) => th.textContent);
  const hidden = rows.flatMap((row) => [row.firstElementChild, row.lastElementChild])
    .filter((cell) => { const r = cell.getBoundingClientRect();
                        return r.left < box.left - 0.5 || r.right > box.right + 0.5; })
    .map((cell) => cell.textContent);
  return { wrapped, hidden, fits: table.scrollWidth <= table.parentElement.clientWidth };
}
"""


@pytest.mark.parametrize("width", [1440, 390])
def test_figure_tables_keep_labels_on_one_line_and_the_total_in_view(
    open_as: Any, width: int
) -> None:
    page = open_as("admin", "/counter")
    page.set_viewport_size({"width": width, "height": 900})
    page.reload()
    page.locator("#stats-status [data-part='done']").wait_for(state="visible", timeout=60_000)
    counter = page.locator("#counter-period-table").evaluate(TABLE_FIT)
    assert counter["wrapped"] == []
    if width >= 1440:  # one cell per status: the whole table fits its card
        assert counter["fits"], counter
    page.goto(page.url.replace("/counter", "/"))
    _settled_dashboard(page)
    for chart in ("volume", "status", "days_to_pay"):
        card = page.locator(f"[data-chart-card='{chart}']")
        card.locator("button[data-action='table']").click()
        table = card.locator("table")
        table.wait_for(state="visible")
        fit = table.evaluate(TABLE_FIT)
        assert fit["wrapped"] == [] and fit["hidden"] == [], (chart, width, fit)
