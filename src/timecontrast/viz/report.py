"""A small report document written as Markdown and as an HTML page (images and videos linked beside it).

The demo (``tcn demo``) builds one from its results: headings, paragraphs, tables of
numbers, images, videos and shell commands. Paths are stored relative to the report's
folder so the folder can be moved or zipped as a whole. No Markdown library is used:
the two renderings are written from the same blocks, which keeps them identical in
content and avoids a dependency for a page of tables.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from timecontrast.io.files import atomic_path

Cell = str | float | int | None


@dataclass
class _Block:
    kind: str  # heading | text | table | image | video | code | list
    data: dict = field(default_factory=dict)


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
        """A paragraph; `code` spans and **bold** are kept in Markdown and rendered in HTML."""
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
        try:
            return Path(os.path.relpath(path, root)).as_posix()
        except ValueError:  # another drive (Windows)
            return path.as_posix()

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
                out.append("| " + " | ".join(d["header"]) + " |")
                out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(d["header"]))) + "|")
                out += ["| " + " | ".join(row) + " |" for row in d["rows"]]
                out.append("")
            elif b.kind == "image":
                out += [f"![{d['caption']}]({self._rel(d['path'], root)})", "", f"*{d['caption']}*", ""]
            elif b.kind == "video":
                rel = self._rel(d["path"], root)
                if d["poster"] is not None:
                    out += [f"[![{d['caption']}]({self._rel(d['poster'], root)})]({rel})", ""]
                out += [f"[{d['caption']}]({rel})", ""]
            elif b.kind == "code":
                out += ["```bash", d["text"].rstrip(), "```", ""]
        return "\n".join(out).rstrip() + "\n"

    @staticmethod
    def _inline(text: str) -> str:
        """HTML of a paragraph: escaped, with `code` and **bold** spans."""
        parts = html.escape(text).split("`")
        text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        parts = text.split("**")
        return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))

    def html(self, root: str | os.PathLike) -> str:
        root = Path(root)
        esc = html.escape
        body = [f"<h1>{esc(self.title)}</h1>"]
        for b in self.blocks:
            d = b.data
            if b.kind == "heading":
                body.append(f"<h{d['level']}>{esc(d['text'])}</h{d['level']}>")
            elif b.kind == "text":
                body.append(f"<p>{self._inline(d['text'])}</p>")
            elif b.kind == "list":
                body.append("<ul>" + "".join(f"<li>{self._inline(i)}</li>" for i in d["items"]) + "</ul>")
            elif b.kind == "table":
                head = "".join(f"<th>{esc(h)}</th>" for h in d["header"])
                rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in d["rows"])
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
                    f'<figure><video src="{src}" controls loop muted playsinline{poster}></video>'
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
            f"<title>{esc(self.title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
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
