"""Open local pages in a real headless browser and report what a script in each page measured, as JSON.

Run as a program by `test_report_in_a_browser.py` (a browser wants its own process):

    python headless_browser.py OUT.json PAGE.html [PAGE.html ...]

The browser is Chromium as Qt WebEngine embeds it (the `PySide6-WebEngine`
package from PyPI ships it inside its wheel, so `pip install` alone brings it),
drawn offscreen with no display, no GPU and no sandbox (root in a container
cannot sandbox). Each page is loaded from its file; once it has loaded (its
images too), `MEASURE` runs in it. A screenshot of each page is saved beside
OUT.json as `<page stem>.png`. Exits non-zero, saying why, if a page does not
load within `TIMEOUT_MS`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = ("--no-sandbox --disable-gpu --disable-background-networking "
                                            "--disable-component-update --disable-sync --no-first-run")

from PySide6.QtCore import QTimer, QUrl  # noqa: E402
from PySide6.QtWebEngineWidgets import QWebEngineView  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TIMEOUT_MS = 60_000
MEASURE = """JSON.stringify({
  title: document.title,
  images: [...document.images].map(i => ({
    alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
    shownWidth: i.getBoundingClientRect().width, shownHeight: i.getBoundingClientRect().height})),
  tables: [...document.querySelectorAll("table")].map(t => ({
    rows: t.rows.length, header: [...t.rows[0].cells].map(c => c.innerText),
    shownHeight: t.getBoundingClientRect().height})),
  summaryHeight: (document.querySelector("pre") || {getBoundingClientRect: () => ({height: 0})})
    .getBoundingClientRect().height,
})"""


def main(out: Path, pages: list[Path]) -> int:
    app = QApplication(sys.argv[:1])
    view = QWebEngineView()
    view.resize(1280, 1000)
    view.show()
    results: dict[str, dict] = {}
    failure: list[str] = []

    def load(index: int) -> None:
        if index == len(pages):
            app.quit()
            return
        page = pages[index]

        def measured(value) -> None:
            results[page.name] = json.loads(value) if value else {}
            view.grab().save(str(out.parent / f"{page.stem}.png"))
            load(index + 1)

        def loaded(ok: bool) -> None:
            view.loadFinished.disconnect()
            if not ok:
                failure.append(f"{page} did not load")
                app.quit()
                return
            QTimer.singleShot(300, lambda: view.page().runJavaScript(MEASURE, 0, measured))

        view.loadFinished.connect(loaded)
        view.load(QUrl.fromLocalFile(str(page.resolve())))

    QTimer.singleShot(0, lambda: load(0))
    QTimer.singleShot(TIMEOUT_MS, lambda: (failure.append(f"timed out after {TIMEOUT_MS} ms"), app.quit()))
    app.exec()
    if failure:
        print(f"headless browser: {failure[0]}", file=sys.stderr)
        return 1
    out.write_text(json.dumps(results, indent=1, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
