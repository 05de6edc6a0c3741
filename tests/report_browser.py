"""Open an HTML report in headless Chromium and check it the way a reader sees it.

Test helper (``from report_browser import ...``; ``tests/`` is on ``sys.path``). The page
is loaded from a copy in the test's folder with a ``<base>`` of the report's folder (so
relative links resolve as they do for the report) and a checking script appended; Chromium runs it with ``--dump-dom`` and the
script writes what it found into the DOM: every image's ``naturalWidth``, every video's
``readyState`` and media error after ``loadedmetadata`` or ``error``, and the page's
visible text (``innerText``: ``text`` without code blocks, ``prose`` also without inline
code, which may hold any character). :func:`report_problems` turns that
into a list of problems; a screenshot is taken with ``--screenshot``.

Videos: Debian's ``chromium`` decodes the H.264 mp4 files ``timecontrast`` writes
(checked: ``readyState`` 4 and the video's width on the demo report), so a video counts
as loaded at ``readyState >= 1`` (metadata) with no media error; a missing or undecodable
file is a definite ``error`` (MEDIA_ERR_SRC_NOT_SUPPORTED), reported as a problem.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
RESULT_ID = "tcn-report-check"

# Runs after every image has settled (window load), then waits for each video's metadata
# or error (at most 5 s of the page's time), and writes the findings into <pre id=...>.
CHECK_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const videos = [...document.querySelectorAll("video")];
  const settled = videos.map(v => new Promise(resolve => {
    if (v.readyState >= 1 || v.error) return resolve();
    v.addEventListener("loadedmetadata", resolve, {once: true});
    v.addEventListener("error", resolve, {once: true});
  }));
  const timeout = new Promise(resolve => setTimeout(resolve, 5000));
  Promise.race([Promise.all(settled), timeout]).then(() => {
    const visible = (selector) => {  // innerText with the elements of selector hidden
      const hidden = [...document.querySelectorAll(selector)];
      const shown = hidden.map(e => e.style.display);
      hidden.forEach(e => { e.style.display = "none"; });
      const text = document.body.innerText;
      hidden.forEach((e, i) => { e.style.display = shown[i]; });
      return text;
    };
    const found = {
      images: [...document.images].map(i => ({src: i.getAttribute("src"), natural_width: i.naturalWidth})),
      videos: videos.map(v => ({src: v.getAttribute("src"), ready_state: v.readyState,
                                error: v.error ? v.error.code : null, width: v.videoWidth})),
      text: visible("pre"),  // what a reader reads, code blocks aside
      prose: visible("pre, code"),  // and without inline code, where any character may stand
      height: document.documentElement.scrollHeight,
    };
    const pre = document.createElement("pre");
    pre.id = "RESULT_ID";
    pre.textContent = JSON.stringify(found);
    document.body.appendChild(pre);
  });
});
</script>
""".replace("RESULT_ID", RESULT_ID)

# Markdown that a renderer left as it is: **strong**, *emphasis*, `code`, [link](url).
MARKERS = {
    "**": re.compile(r"\*\*"),
    "*word*": re.compile(r"(?<![\w*])\*[^\s*][^*\n]*?(?<!\s)\*(?![\w*])"),
    "backtick": re.compile(r"`"),
    "](": re.compile(r"\]\("),
}


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium() -> tuple[str | None, str]:
    """``(path, "")`` of a Chromium, installed with apt (Debian's ``chromium``) when missing and
    possible; else ``(None, why not)``."""
    found = find_chromium()
    if found:
        return found, ""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return (
            None,
            "Chromium is not installed and the tests do not run as root to install it (apt-get install chromium)",
        )
    if shutil.which("apt-get") is None:
        return None, "Chromium is not installed and there is no apt-get to install it (install Chromium or Chrome)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = []
    for command in (
        ["apt-get", "install", "-y", "chromium"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "chromium"],
    ):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.append(f"{' '.join(command)}: {exc}")
            continue
        log.append(f"{' '.join(command)}: exit {done.returncode} {done.stderr.strip()[-300:]}")
        if command[1] == "install" and done.returncode == 0 and find_chromium():
            return find_chromium(), ""
    return None, "Chromium could not be installed with apt-get: " + " | ".join(log)


def _chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--mute-audio", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def inspect_report(chromium: str, html_path: Path, workdir: Path, base: Path | None = None) -> dict:
    """What Chromium shows of ``html_path`` (see the module docstring), its relative links
    resolved in ``base`` (default: its folder); the copy it opens is ``workdir/<name>.check.html``."""
    html_path = Path(html_path).resolve()
    base_dir = Path(base).resolve() if base is not None else html_path.parent
    page = html_path.read_text(encoding="utf-8")
    if "<head>" not in page or "</body>" not in page:
        raise AssertionError(f"{html_path} has no <head> or </body>")
    base_tag = f'<head>\n<base href="{base_dir.as_uri()}/">'
    copy = Path(workdir) / f"{html_path.stem}.check.html"
    copy.write_text(page.replace("<head>", base_tag, 1).replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    done = _chromium(chromium, workdir / "profile", "--dump-dom", "--virtual-time-budget=15000", copy.as_uri())
    match = re.search(rf'<pre id="{RESULT_ID}">(.*?)</pre>', done.stdout, re.DOTALL)
    if match is None:
        raise AssertionError(f"the checking script left no result (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(html.unescape(match.group(1)))


def screenshot(chromium: str, html_path: Path, out: Path, height: int, workdir: Path) -> Path:
    """A PNG of the whole page (up to 16000 pixels high)."""
    size = f"--window-size=1100,{max(600, min(int(height) + 40, 16000))}"
    done = _chromium(
        chromium, workdir / "profile", size, f"--screenshot={out}", "--virtual-time-budget=5000",
        Path(html_path).resolve().as_uri(),
    )  # fmt: skip
    if not out.is_file():
        raise AssertionError(f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}")
    return out


def report_problems(found: dict) -> list[str]:
    """What a reader would see wrong: images or videos that do not load, Markdown left as text."""
    problems = [f"image {i['src']} did not load" for i in found["images"] if not i["natural_width"]]
    for v in found["videos"]:
        if v["error"] is not None or v["ready_state"] < 1:
            problems.append(f"video {v['src']} did not load (readyState {v['ready_state']}, media error {v['error']})")
    for name, pattern in MARKERS.items():
        for m in pattern.finditer(found["prose"]):
            context = found["prose"][max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
            problems.append(f"literal Markdown {name} in the text: ...{context}...")
    return problems


def check_lines(found: dict) -> list[str]:
    """The PASS/FAIL lines of the page's text."""
    return re.findall(r"^(?:PASS|FAIL): .+$", found["text"], re.MULTILINE)
