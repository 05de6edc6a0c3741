"""A small report document written as Markdown and as an HTML page (images and videos linked beside it).

The demo (``tcn demo``) builds one from its results: headings, paragraphs, tables of
numbers, images, videos and shell commands. Paths are stored relative to the report's
folder (percent-encoded) so the folder can be moved or zipped as a whole. Both renderings
are written from the same blocks. Text (paragraphs, bullets, headings, table cells) is
inline Markdown, kept as it is in ``report.md`` and rendered for ``report.html`` by
:func:`inline_html`: `code`, **strong**, *emphasis*, [links](url) and ![images](url),
with a backslash keeping a marker literal (``\\*``) and everything else HTML-escaped,
as CommonMark renders the same text (a subset of it, enough for a page of tables;
no Markdown library is needed). Captions are plain text.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from timecontrast.io.files import atomic_path

Cell = str | float | int | None


@dataclass
class _Block:
    kind: str  # heading | text | table | image | video | code | list
    data: dict = field(default_factory=dict)


# ----------------------------------------------------------------------- inline Markdown
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_SAFE_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)")  # has a scheme: only the ones below are kept
_SCHEMES = ("http:", "https:", "mailto:", "file:")


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown: every marker character backslash-escaped."""
    return "".join("\\" + c if c in "\\`*_[]<>|#!" else c for c in text)


def _md_cell(text: str) -> str:
    """A table cell's inline Markdown with its ``|`` escaped (a bare one would end the cell)."""
    return re.sub(r"(?<!\\)\|", r"\\|", text)


def _backticks(text: str, i: int) -> int:
    j = i
    while j < len(text) and text[j] == "`":
        j += 1
    return j - i


def _code_span_end(text: str, i: int) -> int | None:
    """Where the code span opened by the backticks at ``i`` closes (after it); None if it does not."""
    run = _backticks(text, i)
    j = i + run
    while j < len(text):
        if text[j] == "`":
            k = _backticks(text, j)
            if k == run:
                return j + k
            j += k
        else:
            j += 1
    return None


def _skip(text: str, j: int) -> int | None:
    """Past an escape or a code span at ``j`` (what a closing marker cannot be inside); None if neither."""
    if text[j] == "\\" and j + 1 < len(text) and text[j + 1] in _PUNCTUATION:
        return j + 2
    if text[j] == "`":
        end = _code_span_end(text, j)
        return end if end is not None else j + _backticks(text, j)
    return None


def _closing(text: str, start: int, marker: str) -> int | None:
    """Index of the ``marker`` (``*`` or ``**``) closing an emphasis opened before ``start``."""
    j = start
    while j < len(text):
        past = _skip(text, j)
        if past is not None:
            j = past
            continue
        if text.startswith("**", j):
            if marker == "**" and j > start and not text[j - 1].isspace():
                return j
            j += 2  # a strong span inside an emphasis
            continue
        if text[j] == "*" and marker == "*" and j > start and not text[j - 1].isspace():
            return j
        j += 1
    return None


def _bracket_end(text: str, i: int, open_: str, close: str) -> int | None:
    """Index of the ``close`` matching the ``open_`` at ``i`` (nesting, escapes and code spans skipped)."""
    depth, j = 0, i
    while j < len(text):
        past = _skip(text, j) if j > i else None
        if past is not None:
            j = past
            continue
        if text[j] == open_:
            depth += 1
        elif text[j] == close:
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


def _link(text: str, i: int) -> tuple[str, str, int] | None:
    """``[label](url)`` at ``i``: ``(label, url, end)``, or None."""
    close = _bracket_end(text, i, "[", "]")
    if close is None or not text.startswith("(", close + 1):
        return None
    end = _bracket_end(text, close + 1, "(", ")")
    if end is None:
        return None
    url = text[close + 2 : end].strip()
    if not url or any(c.isspace() for c in url):
        return None
    return text[i + 1 : close], url, end + 1


def _href(url: str) -> str | None:
    """An attribute-safe URL, or None for a scheme a report never links to (``javascript:``)."""
    url = re.sub(r"\\(.)", r"\1", url)
    if _SAFE_URL.match(url) and not url.lower().startswith(_SCHEMES):
        return None
    return html.escape(url, quote=True)


def inline_html(text: str) -> str:
    """HTML of one piece of inline Markdown (see the module docstring); everything else escaped."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in _PUNCTUATION:
            out.append(html.escape(text[i + 1]))
            i += 2
        elif c == "`":
            end = _code_span_end(text, i)
            run = _backticks(text, i)
            if end is None:
                out.append(text[i : i + run])
                i += run
                continue
            code = text[i + run : end - run]
            if len(code) > 2 and code[0] == code[-1] == " " and code.strip():
                code = code[1:-1]
            out.append(f"<code>{html.escape(code)}</code>")
            i = end
        elif c == "!" and text.startswith("[", i + 1) and (link := _link(text, i + 1)) and _href(link[1]):
            label, url, i = link
            out.append(f'<img src="{_href(url)}" alt="{html.escape(_plain(label))}">')
        elif c == "[" and (link := _link(text, i)) and _href(link[1]):
            label, url, i = link
            out.append(f'<a href="{_href(url)}">{inline_html(label)}</a>')
        elif c == "*" and (span := _emphasis(text, i)):
            tag, inner, i = span
            out.append(f"<{tag}>{inline_html(inner)}</{tag}>")
        else:
            out.append(html.escape(c))
            i += 1
    return "".join(out)


def _emphasis(text: str, i: int) -> tuple[str, str, int] | None:
    """``**strong**`` or ``*emphasis*`` opening at ``i``: ``(tag, inner text, end)``, or None."""
    for marker, tag in (("**", "strong"), ("*", "em")):
        k = len(marker)
        if not text.startswith(marker, i) or i + k >= len(text) or text[i + k].isspace():
            continue
        if marker == "*" and text.startswith("**", i):
            continue
        close = _closing(text, i + k, marker)
        if close is not None:
            return tag, text[i + k : close], close + k
    return None


def _plain(text: str) -> str:
    """The visible text of inline Markdown (for ``<title>`` and ``alt``)."""
    return html.unescape(re.sub(r"<[^>]+>", "", inline_html(text)))


def machine_summary() -> str:
    """CPU model, cores, memory, Python, torch (and its threads), OS: where numbers were measured."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kb = int(next(ln for ln in meminfo if ln.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import torch

        torch_part = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:  # pragma: no cover - torch is a dependency
        torch_part = "torch not installed"
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, {torch_part}, "
        f"{platform.system()} {platform.release()}"
    )


def format_cell(value: Cell, digits: int = 4) -> str:
    """Numbers with ``digits`` decimals, None / NaN as '-', text as it is."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


class Report:
    """Blocks added in order, then :meth:`write` to ``report.md`` and ``report.html``."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.blocks: list[_Block] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(_Block("heading", {"text": text, "level": level}))

    def text(self, text: str) -> None:
        """A paragraph of inline Markdown (`code`, **strong**, *emphasis*, [links](url)): kept as it
        is in Markdown and rendered in HTML (:func:`inline_html`)."""
        self.blocks.append(_Block("text", {"text": text}))

    def bullets(self, items: Sequence[str]) -> None:
        self.blocks.append(_Block("list", {"items": list(items)}))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Cell]], digits: int = 4) -> None:
        cells = [[format_cell(c, digits) for c in row] for row in rows]
        for row in cells:
            if len(row) != len(header):
                raise ValueError(f"table row {row} has {len(row)} cells for {len(header)} columns")
        self.blocks.append(_Block("table", {"header": list(header), "rows": cells}))

    def image(self, path: str | os.PathLike, caption: str) -> None:
        self.blocks.append(_Block("image", {"path": Path(path), "caption": caption}))

    def video(self, path: str | os.PathLike, caption: str, poster: str | os.PathLike | None = None) -> None:
        self.blocks.append(
            _Block("video", {"path": Path(path), "caption": caption, "poster": Path(poster) if poster else None})
        )

    def code(self, text: str) -> None:
        self.blocks.append(_Block("code", {"text": text}))

    # --------------------------------------------------------------------- rendering
    @staticmethod
    def _rel(path: Path, root: Path) -> str:
        """``path`` relative to the report's folder, as a URL (percent-encoded)."""
        try:
            rel = Path(os.path.relpath(path, root)).as_posix()
        except ValueError:  # another drive (Windows)
            rel = path.as_posix()
        return quote(rel, safe="/")

    def markdown(self, root: str | os.PathLike) -> str:
        root = Path(root)
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            d = b.data
            if b.kind == "heading":
                out += ["#" * d["level"] + " " + d["text"], ""]
            elif b.kind == "text":
                out += [d["text"], ""]
            elif b.kind == "list":
                out += [f"- {item}" for item in d["items"]] + [""]
            elif b.kind == "table":
                out.append("| " + " | ".join(_md_cell(h) for h in d["header"]) + " |")
                out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(d["header"]))) + "|")
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in d["rows"]]
                out.append("")
            elif b.kind == "image":
                caption = markdown_escape(d["caption"])
                out += [f"![{caption}]({self._rel(d['path'], root)})", "", f"*{caption}*", ""]
            elif b.kind == "video":
                rel, caption = self._rel(d["path"], root), markdown_escape(d["caption"])
                if d["poster"] is not None:
                    out += [f"[![{caption}]({self._rel(d['poster'], root)})]({rel})", ""]
                out += [f"[{caption}]({rel})", ""]
            elif b.kind == "code":
                text = d["text"].rstrip()
                fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
                out += [f"{fence}bash", text, fence, ""]
        return "\n".join(out).rstrip() + "\n"

    def html(self, root: str | os.PathLike) -> str:
        """The page: the same blocks as :meth:`markdown`, inline Markdown rendered by :func:`inline_html`."""
        root = Path(root)
        esc = html.escape
        body = [f"<h1>{inline_html(self.title)}</h1>"]
        for b in self.blocks:
            d = b.data
            if b.kind == "heading":
                body.append(f"<h{d['level']}>{inline_html(d['text'])}</h{d['level']}>")
            elif b.kind == "text":
                body.append(f"<p>{inline_html(d['text'])}</p>")
            elif b.kind == "list":
                body.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in d["items"]) + "</ul>")
            elif b.kind == "table":
                head = "".join(f"<th>{inline_html(h)}</th>" for h in d["header"])
                rows = "".join(
                    "<tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in row) + "</tr>" for row in d["rows"]
                )
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif b.kind == "image":
                src = esc(self._rel(d["path"], root))
                body.append(
                    f'<figure><a href="{src}"><img src="{src}" alt="{esc(d["caption"])}"></a>'
                    f"<figcaption>{esc(d['caption'])}</figcaption></figure>"
                )
            elif b.kind == "video":
                src = esc(self._rel(d["path"], root))
                poster = f' poster="{esc(self._rel(d["poster"], root))}"' if d["poster"] is not None else ""
                body.append(
                    f'<figure><video src="{src}" controls loop muted playsinline preload="metadata"{poster}></video>'
                    f'<figcaption><a href="{src}">{esc(d["caption"])}</a></figcaption></figure>'
                )
            elif b.kind == "code":
                body.append(f"<pre><code>{esc(d['text'].rstrip())}</code></pre>")
        style = (
            "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;line-height:1.45}"
            "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em}"
            "td{text-align:right;font-variant-numeric:tabular-nums}td:first-child,th:first-child{text-align:left}"
            "th{background:#f3f3f3}img,video{max-width:100%}figure{margin:1em 0}"
            "figcaption{color:#555;font-size:.9em}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}"
            "code{font-size:.92em}"
        )
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(_plain(self.title))}</title>\n<style>{style}</style>\n</head>\n<body>\n"
            + "\n".join(body)
            + "\n</body>\n</html>\n"
        )

    def write(self, outdir: str | os.PathLike, name: str = "report") -> tuple[Path, Path]:
        """Write ``<outdir>/<name>.md`` and ``<outdir>/<name>.html`` (atomically); return both paths."""
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        paths = []
        for suffix, text in ((".md", self.markdown(outdir)), (".html", self.html(outdir))):
            path = outdir / f"{name}{suffix}"
            with atomic_path(path) as tmp:
                Path(tmp).write_text(text, encoding="utf-8")
            paths.append(path)
        return paths[0], paths[1]
