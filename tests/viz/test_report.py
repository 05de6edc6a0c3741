"""The report document: the same content in Markdown and HTML, relative links, escaping."""

from __future__ import annotations

import pytest

from timecontrast.viz.report import Report, format_cell


def test_markdown_and_html_hold_the_same_blocks(tmp_path):
    (tmp_path / "plots").mkdir()
    rep = Report("Results <1>")
    rep.heading("Numbers")
    rep.text("Run `tcn align` for **more**.")
    rep.table(["metric", "trained", "untrained"], [["alignment", 0.08214, 0.285], ["kNN", None, float("nan")]])
    rep.image(tmp_path / "plots" / "pca.png", "PCA & friends")
    rep.video(tmp_path / "v.mp4", "a video", poster=tmp_path / "v.gif")
    rep.code("tcn demo --outdir x")
    md_path, html_path = rep.write(tmp_path)
    md, html = md_path.read_text(), html_path.read_text()

    assert "| alignment | 0.0821 | 0.2850 |" in md and "| kNN | - | - |" in md
    assert "![PCA & friends](plots/pca.png)" in md  # relative to the report's folder
    assert "[![a video](v.gif)](v.mp4)" in md
    assert "```bash\ntcn demo --outdir x\n```" in md
    assert "<title>Results &lt;1&gt;</title>" in html
    assert "Run <code>tcn align</code> for <b>more</b>." in html
    assert "<td>0.0821</td><td>0.2850</td>" in html
    assert 'src="plots/pca.png"' in html and "PCA &amp; friends" in html
    assert '<video src="v.mp4"' in html and 'poster="v.gif"' in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots", "report.html", "report.md"]  # no temporaries


def test_table_rows_must_fit_the_header():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Report("t").table(["a", "b", "c"], [[1, 2]])


def test_format_cell():
    assert [format_cell(v) for v in (None, True, 3, 0.5, float("inf"), "x")] == ["-", "yes", "3", "0.5000", "-", "x"]
