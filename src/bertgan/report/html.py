"""A run folder's ``report.html``: one static page with the pictures, the latest figures and the resolved
config. No scripts, no external assets; image paths are relative so the folder can be moved or zipped."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from bertgan.io import write_text

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
figure{display:inline-block;margin:.4em;vertical-align:top}figcaption{font-size:.85em;color:#555}
img{image-rendering:pixelated;max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:.85em}
"""


def _table(d: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def write_report(run_dir: str | Path, title: str, summary: dict, figures: Sequence[tuple[str, str]],
                 gallery: Sequence[tuple[str, str]] = (), config: dict | None = None, note: str = "") -> Path:
    """figures: (caption, relative path) shown large; gallery: small ones (e.g. one grid per epoch)."""
    run_dir = Path(run_dir)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    parts.append("<h2>Latest</h2>" + _table(summary))
    for caption, rel in figures:
        parts.append(f"<figure><img src='{html.escape(rel)}' alt='{html.escape(caption)}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if gallery:
        parts.append("<h2>Over training</h2>")
        for caption, rel in gallery:
            parts.append(f"<figure><img src='{html.escape(rel)}' width='220' alt='{html.escape(caption)}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if config is not None:
        parts.append("<h2>Resolved config</h2><pre>" + html.escape(json.dumps(config, indent=2)) + "</pre>")
    parts.append("</body></html>\n")
    path = run_dir / "report.html"
    write_text(path, "".join(parts))
    return path
