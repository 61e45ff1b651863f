"""Figure builders for the dashboard: plotly confidence band and top-k bars; SVG loss curves, pictures and bars."""
import html
import itertools
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

TRAIN_COLOUR, VAL_COLOUR, MARK_COLOUR = "#1f77b4", "#d62728", "#9467bd"
CONFIDENCE_SCALE = [[0.0, "#f08c8c"], [0.25, "#f7c19a"], [0.5, "#fbeaa0"], [1.0, "#8fd18a"]]  # light: text stays readable
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")  # plotly's default colours
MAX_POINTS = 2000
LN2 = math.log(2)


def plotly_layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    """The dashboard's plotly look: white template, slim margins, the legend in a row above the plot."""
    kw = {"margin": dict(l=10, r=10, t=30, b=10), **kw}
    fig.update_layout(height=height, template="plotly_white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), **kw)
    return fig


def _ema(values: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    out = np.empty_like(values)
    acc = values[0]
    for i, v in enumerate(values):
        acc = alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


class _Frame:
    """A w x height SVG line chart's frame: its legend of (name, colour, line attributes) across the top (in
    as many rows as it needs), round ticks covering xs and ys with gridlines and labels, axis titles (all in parts),
    and the data -> pixel maps px and py."""

    def __init__(self, xs: list[float], ys: list[float], height: int, x_title: str, y_title: str,
                 legend: list[tuple[str, str, str]], w: int = 600, log_y: bool = False):
        self.w, self.height, self.left, self.right, self.bottom = w, height, 56, 30, 44
        self.parts, x, row = [], self.left, 0
        for name, colour, style in legend:
            width = 45 + 7 * len(name)
            if x > self.left and x + width > w:
                x, row = self.left, row + 1
            y = 12 + 18 * row
            self.parts += [f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{colour}" {style}/>',
                           f'<text x="{x + 27}" y="{y}" dy="0.35em">{html.escape(name)}</text>']
            x += width
        self.top = 30 + 18 * row
        x_ticks = _ticks(0, max(xs, default=1) or 1)
        self.x0, self.x1 = x_ticks[0], x_ticks[-1]
        if not log_y:
            y_ticks = _ticks(min(ys, default=0), max(ys, default=1))
            self.y0, self.y1 = y_ticks[0], y_ticks[-1]
        else:  # ys are log10 values: the range is theirs, the ticks whole powers of ten where there are two
            self.y0, self.y1 = min(ys, default=-1.0), max(ys, default=1.0)
            if self.y1 - self.y0 < 1e-9:
                self.y0, self.y1 = self.y0 - 0.5, self.y1 + 0.5
            whole = range(math.ceil(self.y0), math.floor(self.y1) + 1)
            y_ticks = list(whole[::math.ceil(len(whole) / 8)]) if len(whole) >= 2 else \
                [t for t in _ticks(self.y0, self.y1) if self.y0 <= t <= self.y1]
        for t in y_ticks:
            y = self.py(t)
            label = (f"10<tspan dy='-0.5em' font-size='9'>{t:g}</tspan>" if float(t).is_integer() else
                     f"{10 ** t:.2g}") if log_y else f"{t:g}"
            self.parts += [f'<line x1="{self.left}" x2="{w - self.right}" y1="{y}" y2="{y}" stroke="#eee"/>',
                           f'<text x="{self.left - 6}" y="{y}" dy="0.35em" text-anchor="end">{label}</text>']
        self.parts += [f'<text x="{self.px(t)}" y="{height - self.bottom + 16}" text-anchor="middle">{t:,g}</text>'
                       for t in x_ticks]
        middle = (self.left + w - self.right) / 2
        self.parts += [f'<text x="{middle}" y="{height - 8}" text-anchor="middle">{html.escape(x_title)}</text>',
                       f'<text transform="translate(14,{(self.top + height - self.bottom) / 2}) rotate(-90)" '
                       f'text-anchor="middle">{html.escape(y_title)}</text>']
        if not legend:
            self.parts.append(f'<text x="{middle}" y="{height / 2}" text-anchor="middle" fill="#888">no data yet'
                              '</text>')

    def px(self, x: float) -> str:
        return f"{self.left + (x - self.x0) / (self.x1 - self.x0) * (self.w - self.left - self.right):.1f}"

    def py(self, y: float) -> str:
        inner = self.height - self.top - self.bottom
        return f"{self.height - self.bottom - (y - self.y0) / (self.y1 - self.y0) * inner:.1f}"

    def points(self, xy) -> str:
        """A polyline's points attribute."""
        return " ".join(f"{self.px(x)},{self.py(y)}" for x, y in xy)

    def svg(self) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.height}" width="{self.w}" '
                f'height="{self.height}" font-family="sans-serif" font-size="12" fill="#444">' + "".join(self.parts)
                + "</svg>")


def loss_svg(curve: list[dict], marks: list[int] = (), selected: int | None = None, height: int = 380) -> str:
    """Train (raw and smoothed) and val loss in bits per character against step, from samples.json's curve format,
    as an SVG: drawn with the page, where a plotly chart waits seconds for its library in a fresh browser.

    marks: steps with a stored sample (dotted lines); selected: one of them, drawn bold.
    """
    train = [(p["step"], p["train_loss"] / LN2) for p in curve if p.get("train_loss") is not None]
    val = [(p["step"], p["val_loss"] / LN2) for p in curve if p.get("val_loss") is not None]
    solid = 'stroke-width="2"'
    legend = ([("train (raw)", TRAIN_COLOUR, solid + ' opacity="0.25"'), ("train", TRAIN_COLOUR, solid)]
              if train else []) + ([("val", VAL_COLOUR, solid)] if val else [])
    frame = _Frame([s for s, _ in train + val] + list(marks), [v for _, v in train + val], height, "step",
                   "loss (bits / char)", legend)
    parts = frame.parts
    for step in marks:
        bold = step == selected
        parts.append(f'<line x1="{frame.px(step)}" x2="{frame.px(step)}" y1="{frame.top}" '
                     f'y2="{height - frame.bottom}" stroke="{MARK_COLOUR}" stroke-width="{3 if bold else 1}"'
                     + ("" if bold else ' stroke-dasharray="2,3"') + "/>")
    if train:
        stride = max(1, len(train) // MAX_POINTS)
        t_steps, t_losses = np.array(train[::stride], dtype=float).T
        smooth = _ema(t_losses, alpha=min(1.0, 20 / len(t_losses)))
        for ys, width, opacity in ((t_losses, 1, 0.25), (smooth, 2, 1)):
            parts.append(f'<polyline points="{frame.points(zip(t_steps, ys))}" fill="none" stroke="{TRAIN_COLOUR}" '
                         f'stroke-width="{width}" opacity="{opacity}"/>')
    if val:
        parts.append(f'<polyline points="{frame.points(val)}" fill="none" stroke="{VAL_COLOUR}" stroke-width="2"/>')
        parts += [f'<circle cx="{frame.px(a)}" cy="{frame.py(b)}" r="3.5" fill="{VAL_COLOUR}"/>' for a, b in val]
        # the image has no hover: the latest val figure is written on it
        parts.append(f'<text x="{frame.px(val[-1][0])}" y="{frame.py(val[-1][1])}" dy="-0.7em" text-anchor="end" '
                     f'fill="{VAL_COLOUR}">{val[-1][1]:.3f}</text>')
    return frame.svg()


@dataclass
class Line:
    """One line of lines_svg: its (x, y) points and how it is drawn."""
    points: list[tuple[float, float]]
    colour: str | None = None   # None: the palette's next colour
    dash: str = ""              # an SVG stroke-dasharray ("6,4"); "" draws it solid
    width: float = 2
    markers: bool = True


def lines_svg(lines: dict[str, Line], x_title: str, y_title: str, height: int = 320, log_y: bool = False,
              y_range: tuple[float, float] | None = None, width: int = 600) -> str:
    """Named lines as an SVG chart (drawn with the page, like loss_svg). log_y: the points' y are log10 values,
    labelled as powers of ten; y_range: the y extent to show (else the points'); width: about the pixels it is
    shown at (a narrow column takes a narrower chart, so its 12 px text is not scaled down)."""
    palette = itertools.cycle(PALETTE)
    colours = {name: line.colour or next(palette) for name, line in lines.items()}
    styles = {name: (f'stroke-dasharray="{line.dash}" ' if line.dash else "") + f'stroke-width="{line.width}"'
              for name, line in lines.items()}
    xs = [x for line in lines.values() for x, _ in line.points]
    ys = list(y_range) if y_range else [y for line in lines.values() for _, y in line.points]
    frame = _Frame(xs, ys, height, x_title, y_title, [(name, colours[name], styles[name]) for name in lines],
                   w=width, log_y=log_y)
    for name, line in lines.items():
        frame.parts.append(f'<polyline points="{frame.points(line.points)}" fill="none" stroke="{colours[name]}" '
                           f'{styles[name]}/>')
        if line.markers:
            frame.parts += [f'<circle cx="{frame.px(x)}" cy="{frame.py(y)}" r="3" fill="{colours[name]}"/>'
                            for x, y in line.points]
    return frame.svg()


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values (1, 2 or 5 times a power of ten apart) covering lo..hi."""
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / n
    step = min((m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [round(k * step, 10) for k in range(first, last + 1)]


def _display_char(ch: str) -> str:
    return {"\n": "↵", "\t": "→", " ": "·"}.get(ch, ch)


def confidence_figure(text: str, p_chosen: np.ndarray, width: int = 80, selected: int | None = None) -> go.Figure:
    """Each character of text as a cell coloured by the probability the model gave it (red low, green high).

    Lines follow the text's own line breaks and wrap at width characters.
    """
    cells: list[list[int]] = [[]]
    for i, ch in enumerate(text):
        if len(cells[-1]) == width:
            cells.append([])
        cells[-1].append(i)
        if ch == "\n":
            cells.append([])
    if not cells[-1] and len(cells) > 1:
        cells.pop()
    n_rows, n_cols = len(cells), max(1, max(len(r) for r in cells))
    z = np.full((n_rows, n_cols), np.nan)
    index = np.full((n_rows, n_cols), -1)
    labels = np.full((n_rows, n_cols), "", dtype=object)
    for r, row in enumerate(cells):
        for c, i in enumerate(row):
            z[r, c], index[r, c], labels[r, c] = p_chosen[i], i, _display_char(text[i])
    fig = go.Figure(go.Heatmap(
        z=z, text=labels, texttemplate="%{text}", textfont=dict(family="monospace", size=13, color="#111"),
        customdata=index, colorscale=CONFIDENCE_SCALE, zmin=0, zmax=1, xgap=1, ygap=1,
        hovertemplate="position %{customdata}: '%{text}'<br>p = %{z:.3f}<extra></extra>",
        colorbar=dict(title="p", thickness=12, len=max(0.3, min(1.0, 150 / (22 * n_rows + 40)))),
    ))
    if selected is not None and 0 <= selected < len(text):
        r, c = np.argwhere(index == selected)[0]
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=dict(color="black", width=3))
    fig.update_xaxes(visible=False, range=[-0.5, max(n_cols, 40) - 0.5])
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_layout(plot_bgcolor="#f0f0f0")
    return plotly_layout(fig, 22 * n_rows + 40, margin=dict(l=5, r=5, t=5, b=5))


def topk_figure(chars: list[str], probs: list[float], actual: str | None = None) -> go.Figure:
    """Horizontal bars of the top-k next characters, the most likely on top; the actual one highlighted."""
    labels = [repr(c) for c in chars]
    colours = [VAL_COLOUR if c == actual else TRAIN_COLOUR for c in chars]
    fig = go.Figure(go.Bar(x=probs, y=labels, orientation="h", marker_color=colours,
                           text=[f"{p:.3f}" for p in probs], textposition="auto",
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", tickfont=dict(family="monospace", size=14))
    fig.update_xaxes(range=[0, 1], title="probability")
    return plotly_layout(fig, 60 + 32 * len(chars), showlegend=False)


# (title, example, pages, inputs, outputs) per column of the lecture's picture; 1 marks a box
SEQUENCE_TYPES = [
    ("one to one", "plain net:<br>image → class", "Captioning's<br>CNN encoder", [1], [1]),
    ("one to many", "image captioning:<br>image → words", "Captioning,<br>Sample", [1, 0, 0], [1, 1, 1]),
    ("many to one", "sentiment:<br>words → label", "Gradients<br>(loss at the last step)", [1, 1, 1], [0, 0, 1]),
    ("many to many", "translation:<br>read, then write", "Sample<br>(prime, then text)",
     [1, 1, 1, 0, 0], [0, 0, 1, 1, 1]),
    ("many to many", "per frame / per char:<br>next-char prediction", "Train, Training timeline,<br>Cells",
     [1, 1, 1], [1, 1, 1]),
]


def _svg_text(x: float, y: float, label: str, size: int, colour: str) -> str:
    """Centred SVG text at (x, y); "<br>" breaks lines, "<b>...</b>" is bold."""
    bold = label.startswith("<b>")
    lines = label.replace("<b>", "").replace("</b>", "").split("<br>")
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else 1.2}em">{html.escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    weight = "bold" if bold else "normal"
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="{size}" fill="{colour}" '
            f'font-weight="{weight}">{spans}</text>')


def sequence_types_svg(selected: int | None = None) -> str:
    """The lecture's picture of RNN sequence types (inputs red, hidden green, outputs blue) mapped to pages: an SVG
    (a static picture needs no chart library in the browser); with selected, the other columns are faded."""
    box, gap, min_width, panel_gap, scale = 0.6, 0.9, 2.6, 0.5, 60  # in boxes' units; scale: pixels per unit
    colours = {"in": "#f4a6a6", "h": "#9fd89f", "out": "#a6c8f4"}
    levels = {"in": 0.0, "h": 1.1, "out": 2.2}
    top, bottom, left = 3.55, -2.2, -0.1

    def px(x: float, y: float) -> tuple[float, float]:  # diagram units (y up) -> SVG pixels (y down)
        return (x - left) * scale, (top - y) * scale

    parts, x0 = [], 0.0
    for column, (title, example, pages, ins, outs) in enumerate(SEQUENCE_TYPES):
        first_part = len(parts)
        n = len(ins)
        width = max((n - 1) * gap + box, min_width)
        centre = x0 + width / 2
        first = centre - (n - 1) * gap / 2
        for k in range(n):
            x = first + k * gap
            for kind, on in (("in", ins[k]), ("h", 1), ("out", outs[k])):
                if on:
                    rx, ry = px(x - box / 2, levels[kind] + box)
                    parts.append(f'<rect x="{rx:.1f}" y="{ry:.1f}" width="{box * scale:.1f}" height="{box * scale:.1f}" '
                                 f'fill="{colours[kind]}" stroke="#555"/>')
            arrows = [(x, levels["in"] + box, x, levels["h"])] * ins[k] \
                + [(x, levels["h"] + box, x, levels["out"])] * outs[k]
            if k:  # the recurrence: h_{t-1} -> h_t
                y = levels["h"] + box / 2
                arrows.append((x - gap + box / 2, y, x - box / 2, y))
            for tail_x, tail_y, head_x, head_y in arrows:
                (x1, y1), (x2, y2) = px(tail_x, tail_y), px(head_x, head_y)
                parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#444" '
                             'stroke-width="1.5" marker-end="url(#head)"/>')
        for y, label, size, colour in ((3.2, f"<b>{title}</b>", 15, "#111"), (-0.45, example, 12, "#444"),
                                       (-1.35, f"<b>{pages}</b>", 12, "#6a3d9a")):
            parts.append(_svg_text(*px(centre, y), label, size, colour))
        if selected is not None and column != selected:
            parts[first_part:] = ['<g opacity="0.25">' + "".join(parts[first_part:]) + "</g>"]
        x0 += width + panel_gap
    w, h = px(x0 - panel_gap + 0.1, bottom)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" height="{h:.0f}" '
            'font-family="sans-serif"><defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>'
            + "".join(parts) + "</svg>")


def bars_svg(labels: list[str], values: list[float], colours: list[str] | None = None, full: float | None = None,
             digits: int = 3, title: str = "") -> str:
    """Horizontal bars, top to bottom, each with its label and value, as an SVG (a small static chart needs no
    chart library in the browser). A bar of value `full` (default: the largest) spans the whole width."""
    shown = [label if len(label) <= 36 else label[:35] + "…" for label in labels]
    row, bar_w, value_w = 24, 260, 60
    label_w = max(80, 7 * max(map(len, shown), default=0) + 14)   # about 7 px a character at 13 px
    full = full or max(max(values, default=0.0), 1e-12)
    colours = colours or ["#4c78a8"] * len(values)
    top = 22 if title else 4
    parts = [f'<text x="0" y="14" font-size="12" fill="#555">{html.escape(title)}</text>'] if title else []
    for k, (label, value, colour) in enumerate(zip(shown, values, colours)):
        y = top + k * row
        w = bar_w * min(max(value, 0.0), full) / full
        parts += [f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="13" fill="#111">'
                  f'{html.escape(label)}</text>',
                  f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour}"/>',
                  f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="12" fill="#333">{value:.{digits}f}</text>']
    w, h = label_w + bar_w + value_w, top + row * len(labels) + 4
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'font-family="sans-serif">' + "".join(parts) + "</svg>")
