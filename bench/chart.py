"""A small SVG line chart for the benches: size against time, one line per contender, log-log axes.

Plain SVG text (no plotting library in the bench's dependencies); the docs embed the files from bench/results/.
"""
import math
import os
from xml.sax.saxutils import escape

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
W, H, LEFT, RIGHT, TOP, BOTTOM = 640, 400, 70, 20, 40, 110


def _ticks(lo, hi):
    """Powers of ten (and 2x, 5x) between lo and hi, for a log axis."""
    out = []
    for exp in range(int(math.floor(math.log10(lo))), int(math.ceil(math.log10(hi))) + 1):
        for mult in (1, 2, 5):
            v = mult * 10 ** exp
            if lo <= v <= hi:
                out.append(v)
    return out


def _label(v):
    if v >= 1000:
        return "%gk" % (v / 1000.0)
    return "%g" % v


def write_svg(path, title, series, x_label="size", y_label="seconds"):
    """``series``: [(name, [(x, y), ...]), ...] with x, y > 0.  Writes ``path``; returns it."""
    xs = [x for _n, pts in series for x, _y in pts]
    ys = [y for _n, pts in series for _x, y in pts if y > 0]
    x0, x1 = min(xs) / 1.3, max(xs) * 1.3
    y0, y1 = min(ys) / 1.5, max(ys) * 1.5

    def px(x):
        return LEFT + (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0)) * (W - LEFT - RIGHT)

    def py(y):
        return H - BOTTOM - (math.log(y) - math.log(y0)) / (math.log(y1) - math.log(y0)) * (H - TOP - BOTTOM)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (LEFT, escape(title))]
    for v in _ticks(x0, x1):
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (px(v), TOP, px(v), H - BOTTOM))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (px(v), H - BOTTOM + 16, _label(v)))
    for v in _ticks(y0, y1):
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (LEFT, py(v), W - RIGHT, py(v)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (LEFT - 6, py(v) + 4, _label(v)))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s (log)</text>' % (
        (LEFT + W - RIGHT) // 2, H - BOTTOM + 34, escape(x_label)))
    out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s (log)</text>' % (
        (TOP + H - BOTTOM) // 2, (TOP + H - BOTTOM) // 2, escape(y_label)))
    for i, (name, pts) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = sorted(p for p in pts if p[1] > 0)
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
            colour, " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in pts)))
        for x, y in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s -> %.3g %s</title></circle>' % (
                px(x), py(y), colour, escape(name), _label(x), y, escape(y_label)))
        ly = H - BOTTOM + 54 + 16 * i
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (LEFT, ly - 4, LEFT + 24, ly - 4,
                                                                                             colour))
        out.append('<text x="%d" y="%d">%s</text>' % (LEFT + 30, ly, escape(name)))
    out.append("</svg>\n")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write("\n".join(out))
    return path
