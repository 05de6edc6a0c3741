"""The report document: the same content in Markdown and HTML, relative links, escaping,
inline Markdown rendered in the HTML; and the page as headless Chromium shows it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from report_browser import check_lines, inspect_report, report_problems, screenshot
from timecontrast.io.video import VideoWriter
from timecontrast.viz.report import Report, format_cell, inline_html, markdown_escape


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
    assert "Run <code>tcn align</code> for <strong>more</strong>." in html
    assert "<td>0.0821</td><td>0.2850</td>" in html
    assert 'src="plots/pca.png"' in html and "PCA &amp; friends" in html
    assert '<video src="v.mp4"' in html and 'poster="v.gif"' in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots", "report.html", "report.md"]  # no temporaries


def test_table_rows_must_fit_the_header():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Report("t").table(["a", "b", "c"], [[1, 2]])


def test_format_cell():
    assert [format_cell(v) for v in (None, True, 3, 0.5, float("inf"), "x")] == ["-", "yes", "3", "0.5000", "-", "x"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frame in *other* sequences", "frame in <em>other</em> sequences"),
        ("Run `tcn align` for **more**.", "Run <code>tcn align</code> for <strong>more</strong>."),
        ("**bold *em* bold**", "<strong>bold <em>em</em> bold</strong>"),
        ("`a*b*` and ``x `y` z``", "<code>a*b*</code> and <code>x `y` z</code>"),
        (
            "[the plot](plots/a%20b.png) ![pca](pca.png)",
            '<a href="plots/a%20b.png">the plot</a> <img src="pca.png" alt="pca">',
        ),
        ("x <b>not html</b> & 'q'", "x &lt;b&gt;not html&lt;/b&gt; &amp; &#x27;q&#x27;"),
        ("2 * 3 * 4, a literal \\*, pole_up, unclosed **x", "2 * 3 * 4, a literal *, pole_up, unclosed **x"),
        ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),  # never a link
        ('[q](a"b.png)', '<a href="a&quot;b.png">q</a>'),
    ],
)
def test_inline_markdown_renders_as_commonmark_does(text, expected):
    assert inline_html(text) == expected


def test_markdown_keeps_captions_cells_and_paths_literal(tmp_path):
    rep = Report("A *title*")
    rep.table(["a | b", "c"], [["x|y", 1]])
    rep.image(tmp_path / "my plots" / "p (1).png", "caption with *stars* and [brackets]")
    rep.code("echo ```")
    md, html = rep.markdown(tmp_path), rep.html(tmp_path)
    assert "| a \\| b | c |" in md and "| x\\|y | 1 |" in md  # a | in a cell does not end it
    assert "<th>a | b</th>" in html and "<td>x|y</td>" in html
    caption = markdown_escape("caption with *stars* and [brackets]")
    assert f"![{caption}](my%20plots/p%20%281%29.png)" in md and f"*{caption}*" in md
    assert inline_html(caption) == "caption with *stars* and [brackets]"  # read back as it was given
    assert "````bash\necho ```\n````" in md  # a longer fence than the text's backticks
    assert "<title>A title</title>" in html and "<h1>A <em>title</em></h1>" in html
    assert 'src="my%20plots/p%20%281%29.png"' in html


def _media_report(root):
    """A report of every kind of block, with a real PNG, GIF and H.264 mp4 beside it."""
    (root / "media").mkdir(parents=True)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(6)]
    Image.fromarray(frames[0]).save(root / "media" / "plot.png")
    Image.fromarray(frames[1]).save(
        root / "media" / "clip.gif", save_all=True, append_images=[Image.fromarray(f) for f in frames[2:]]
    )
    writer = VideoWriter(root / "media" / "clip.mp4", fps=10, width=64, height=48)
    for frame in frames:
        writer.write(frame)
    writer.close()
    rep = Report("Browser check: **all** blocks")
    rep.text("A paragraph with *emphasis*, **strong**, `code` and [a link](media/plot.png).")
    rep.heading("What it shows")
    rep.bullets(["PASS: the **first** check: 0.1 vs 0.2", "FAIL: the `second` check: 0.3 vs 0.2"])
    rep.table(["metric (*lower* is better)", "value"], [["**alignment**", 0.5]])
    rep.image(root / "media" / "plot.png", "a plot")
    rep.image(root / "media" / "clip.gif", "a GIF")
    rep.video(root / "media" / "clip.mp4", "a video", poster=root / "media" / "plot.png")
    rep.code("tcn demo --outdir `pwd`/demo  # **not** markup in code")
    return rep.write(root)[1]


def test_report_in_headless_chromium_loads_everything_and_shows_no_markdown(tmp_path, chromium):
    page = _media_report(tmp_path / "report")
    found = inspect_report(chromium, page, tmp_path)
    assert report_problems(found) == []
    assert [i["natural_width"] for i in found["images"]] == [64, 64]
    assert [(v["ready_state"] >= 1, v["error"], v["width"]) for v in found["videos"]] == [(True, None, 64)]
    assert check_lines(found) == ["PASS: the first check: 0.1 vs 0.2", "FAIL: the second check: 0.3 vs 0.2"]
    assert "emphasis, strong, code and a link." in found["text"]
    shot = screenshot(chromium, page, tmp_path / "report.png", found["height"], tmp_path)
    assert Image.open(shot).size[0] == 1100


def test_the_browser_check_fails_on_a_broken_report(tmp_path, chromium):
    """The same check finds a broken image path, a missing video and Markdown left as text."""
    page = _media_report(tmp_path / "report")
    html = page.read_text()
    broken = (
        html.replace('src="media/plot.png" alt="a plot"', 'src="media/missing.png" alt="a plot"')
        .replace('<video src="media/clip.mp4"', '<video src="media/gone.mp4"')
        .replace("<em>emphasis</em>", "*emphasis*")
    )
    assert broken.count("missing.png") == 1 and "gone.mp4" in broken and "*emphasis*" in broken
    page.write_text(broken)
    problems = report_problems(inspect_report(chromium, page, tmp_path))
    assert problems[:2] == [
        "image media/missing.png did not load",
        "video media/gone.mp4 did not load (readyState 0, media error 4)",
    ]
    assert len(problems) == 3 and "literal Markdown *word* in the text: " in problems[2]
    assert "A paragraph with *emphasis*, strong," in problems[2]
