"""Regenerate the generated parts of the docs: the trace-event catalogue and the chapter figures.

    .venv/bin/python docs/generate.py
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from sim.scenario.loader import load_scenario  # noqa: E402
from sim.trace.catalogue import catalogue_markdown  # noqa: E402
from sim.viz import write_figures  # noqa: E402


def main() -> None:
    (DOCS / "reference" / "trace-events.md").write_text(catalogue_markdown(), encoding="utf-8")
    for stem, seed in (("01_word_count", 7), ("02_redistribution_order", 1), ("03_aligned_checkpoints", 7),
                       ("04_unaligned_checkpoints", 3), ("06_out_of_order_windows", 1), ("07_session_bridge", 1),
                       ("08_idle_partition", 1), ("09_timer_timeout", 3),
                       ("10_streaming_vs_batch", 4)):
        scenario = load_scenario(str(DOCS.parent / "scenarios" / f"{stem}.py"))
        _figures(stem, scenario.build(seed).run())
    stalled = load_scenario(str(DOCS.parent / "scenarios" / "08_idle_partition.py")).module.build(1, idleness_ms=None)
    _figures("08_idle_partition_stalled", stalled.run())


def _figures(folder: str, result) -> None:
    out = DOCS / "figures" / folder
    out.mkdir(parents=True, exist_ok=True)
    for path in write_figures(result, out):
        print(path.relative_to(DOCS))


if __name__ == "__main__":
    main()
