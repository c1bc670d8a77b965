"""Check Mermaid diagrams with mermaid's own parser and renderer, in a real browser, offline.

``python tools/mermaid_check.py [FILE.md ...] [--screenshot OUT.png]`` checks every Mermaid block of the given
Markdown files (default: every Markdown file of the repository), prints each invalid one as ``file:line:
error``, and exits 1 if there is any; ``--screenshot`` also renders the blocks one under the other into a PNG,
to look at them. ``tests/test_mermaid_blocks.py`` runs the same check in CI.

The bundle is mermaid's ``dist/mermaid.min.js`` from npm, vendored gzipped under ``tests/vendor/mermaid/`` by
``tools/vendor_mermaid.py`` (never fetched at test time); the browser is Debian's chromium, driven by playwright
(whose own browser download, ``playwright install``, is never used). Playwright's sync objects belong to the
thread that made them, so one worker thread owns the browser and every check is handed to it: the tests' own
event loops never meet playwright's.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path
from typing import Any

from browser import ThreadBrowser
from doc_blocks import fenced_blocks, markdown_files

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "tests" / "vendor" / "mermaid" / "mermaid.min.js.gz"
BUNDLE_SHA256 = "581ed7d74bd9048d0e3a91363927d72ef22942d7722546b27f7cc29e35390eb8"
"""mermaid 11.17.2's ``dist/mermaid.min.js``, as tools/vendor_mermaid.py prints it."""

_CHECK = """async ([id, text]) => {
    try {
        await mermaid.parse(text);
        const {svg} = await mermaid.render(id, text);
        return svg.includes("<svg") ? null : "rendering gave no SVG";
    } catch (error) {
        document.getElementById(id)?.remove();
        document.getElementById("d" + id)?.remove();
        return String(error && error.message ? error.message : error);
    }
}"""
"""Parse, then render (rendering finds what the parser lets through); the error text, or null when valid."""


def bundle() -> str:
    """The vendored bundle's script, checked against its pinned SHA-256."""
    script = gzip.decompress(BUNDLE.read_bytes())
    digest = hashlib.sha256(script).hexdigest()
    if digest != BUNDLE_SHA256:
        raise AssertionError(f"{BUNDLE} is not the pinned mermaid bundle (sha256 {digest}); "
                             "run python tools/vendor_mermaid.py")
    return script.decode("utf-8")


class Mermaid:
    """One chromium page with mermaid loaded; ``error(text)`` says what is wrong with a diagram, if anything."""

    def __init__(self, browser: ThreadBrowser | None = None) -> None:
        self._browser = browser or ThreadBrowser()  # the checker's from now on: ``close`` closes it
        self._count = 0
        self._page = self._browser.run(self._open)

    @staticmethod
    def _open(browser: Any) -> Any:
        page = browser.new_page()
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_script_tag(content=bundle())
        page.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
        return page

    def error(self, text: str) -> str | None:
        """Mermaid's error for ``text``, or ``None`` when it parses and renders."""
        self._count += 1
        error = self._browser.run(lambda _: self._page.evaluate(_CHECK, [f"diagram{self._count}", text]))
        return None if error is None else str(error)

    def screenshot(self, texts: list[str], path: Path) -> None:
        """Render ``texts`` one under the other on a fresh page and save a full-page screenshot (for people)."""
        def shoot(browser: Any) -> None:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            try:
                page.set_content("<!doctype html><html><body></body></html>")
                page.add_script_tag(content=bundle())
                page.evaluate("""async (texts) => {
                    mermaid.initialize({startOnLoad: false});
                    for (const [i, text] of texts.entries()) {
                        const {svg} = await mermaid.render("shot" + i, text);
                        const figure = document.createElement("div");
                        figure.style.margin = "24px";
                        figure.innerHTML = svg;
                        document.body.appendChild(figure);
                    }
                }""", texts)
                page.screenshot(path=str(path), full_page=True)
            finally:
                page.close()

        self._browser.run(shoot)

    def close(self) -> None:
        """Close the browser (and with it the page)."""
        self._browser.close()


def main(argv: list[str]) -> int:
    """Check the Mermaid blocks of ``argv``'s files (all Markdown files when none); see the module docstring."""
    shot = None
    if "--screenshot" in argv:
        at = argv.index("--screenshot")
        shot, argv = Path(argv[at + 1]), argv[:at] + argv[at + 2:]
    files = [Path(name).resolve() for name in argv] or markdown_files()
    blocks = [block for path in files for block in fenced_blocks(path) if block.lang == "mermaid"]
    checker = Mermaid()
    try:
        problems = [f"{block.where}: {error}" for block in blocks if (error := checker.error(block.text))]
        if shot is not None:
            checker.screenshot([block.text for block in blocks], shot)
    finally:
        checker.close()
    print("\n".join(problems) if problems else f"{len(blocks)} Mermaid block(s) valid in {len(files)} file(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
