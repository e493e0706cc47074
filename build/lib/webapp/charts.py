"""Small server-rendered SVG charts (no script, no CDN): they render under the strict CSP and in any browser."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

W, H, PAD = 640, 200, 34


def bar_chart(labels: list[str], series: list[tuple[str, list[float], str]], title: str) -> Markup:
    """Grouped bars per label; series = [(name, values, colour)]."""
    n = max(len(labels), 1)
    peak = max([max(v, default=0) for _, v, _ in series] + [1])
    slot = (W - 2 * PAD) / n
    bar = max(1.0, slot * 0.8 / max(len(series), 1))
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {W} {H + 40}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{PAD}" y1="{H}" x2="{W - PAD}" y2="{H}" class="axis"/>',
             f'<text x="{PAD - 6}" y="{PAD}" class="tick" text-anchor="end">{peak:g}</text>',
             f'<text x="{PAD - 6}" y="{H}" class="tick" text-anchor="end">0</text>']
    for s_idx, (name, values, colour) in enumerate(series):
        for i, v in enumerate(values):
            h = (H - PAD) * (v / peak)
            x = PAD + i * slot + slot * 0.1 + s_idx * bar
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{H - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{escape(labels[i])} {escape(name)}: {v:g}</title></rect>')
    step = max(1, n // 8)
    for i in range(0, n, step):
        parts.append(f'<text x="{PAD + i * slot + slot / 2:.1f}" y="{H + 16}" class="tick" text-anchor="middle">{escape(labels[i][-5:])}</text>')
    for s_idx, (name, _, colour) in enumerate(series):
        parts.append(f'<rect x="{PAD + s_idx * 150}" y="{H + 26}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{PAD + s_idx * 150 + 14}" y="{H + 35}" class="tick">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(rows: list[tuple[str, float]], title: str, fmt: str = "{:.0%}", colour: str = "#0b5cab") -> Markup:
    """One horizontal bar per row, values 0..1 (ratios) or counts (scaled to the largest)."""
    height = 26 * max(len(rows), 1) + 10
    peak = max([v for _, v in rows] + [1e-9])
    scale = 1.0 if peak <= 1.0 else peak
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {W} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>']
    for i, (label, v) in enumerate(rows):
        y = 6 + i * 26
        width = (W - 330) * (v / scale)
        parts.append(f'<text x="0" y="{y + 14}" class="tick">{escape(label[:40])}</text>'
                     f'<rect class="bar" x="260" y="{y}" width="{width:.1f}" height="18" fill="{colour}"/>'
                     f'<text x="{266 + width:.1f}" y="{y + 14}" class="tick">{escape(fmt.format(v))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
