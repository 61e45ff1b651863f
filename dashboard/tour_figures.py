"""The Tour's own figure: the lecture's "hello" picture (one-hot inputs, hidden layer, output scores) as heatmaps."""
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charlm.hello import HelloRun
from dashboard import plots


def hello_figure(run: HelloRun, height: int = 460) -> go.Figure:
    """Input (one-hot), hidden state and output scores per step, one column per input letter; each step's target
    letter boxed in the output layer."""
    T = len(run.inputs)
    x = [f"{t + 1}. '{ch}' → '{nxt}'" for t, (ch, nxt) in enumerate(zip(run.inputs, run.targets))]
    hidden = [f"h{u + 1}" for u in range(run.hidden.shape[1])]
    layers = [("output scores", run.scores.T, run.itos, "RdBu", ".2f"),       # (V, T)
              ("hidden layer", run.hidden.T, hidden, "PiYG", ".2f"),         # (H, T)
              ("input (one-hot)", run.one_hot().T, run.itos, "Reds", ".0f")]  # (V, T)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[name for name, *_ in layers],
                        row_heights=[len(labels) for _, _, labels, *_ in layers])
    for row, (name, z, labels, scale, fmt) in enumerate(layers, start=1):
        limit = float(np.abs(z).max()) or 1.0
        fig.add_trace(go.Heatmap(z=z, x=x, y=labels, texttemplate=f"%{{z:{fmt}}}", showscale=False,
                                 colorscale=scale, zmid=0 if scale != "Reds" else None,
                                 zmin=-limit if scale != "Reds" else 0, zmax=limit, xgap=2, ygap=2,
                                 hovertemplate=f"{name}<br>%{{x}}<br>%{{y}}: %{{z:.2f}}<extra></extra>"),
                      row=row, col=1)
        fig.update_yaxes(autorange="reversed", tickfont=dict(family="monospace", size=14), row=row, col=1)
    for t, target in enumerate(run.targets):
        v = run.itos.index(target)
        fig.add_shape(type="rect", x0=t - 0.5, x1=t + 0.5, y0=v - 0.5, y1=v + 0.5, line=dict(color="black", width=3),
                      row=1, col=1)
    fig.update_xaxes(tickfont=dict(family="monospace", size=13), range=[-0.5, T - 0.5])
    return plots.plotly_layout(fig, height)
