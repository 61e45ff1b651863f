"""Gradients: vanishing and exploding gradients in RNN / GRU / LSTM, clipping, truncated BPTT, real text."""
import streamlit as st

from dashboard import gradients as G
from dashboard import links
from dashboard.panels import lazy_tabs

st.title("Gradients")
st.caption("Why LSTMs exist: how the error signal travels back through time in a vanilla RNN, a GRU and an "
           "LSTM (Bengio et al. 1994; Pascanu et al. 2013; Hochreiter & Schmidhuber 1997). This page builds its "
           "own small models and compares the shipped linux-rnn, linux-gru and linux-lstm: the sidebar's model is "
           "not used here. Losses are in bits.")


@st.fragment
def flow_panel() -> None:
    c1, c2, c3, c4 = st.columns(4)
    first = G.FLOW_DEFAULTS
    sigma = c1.slider("Largest singular value σ of W_hh", 0.5, 2.0, first["sigma"], 0.05, key="gradients_sigma")
    forget_bias = c2.slider("Forget-gate bias (LSTM f, GRU z)", -2.0, 6.0, first["forget_bias"], 0.5,
                            key="gradients_fbias")
    length = c3.slider("Sequence length T", 10, 1000, first["length"], 10, key="gradients_length")
    scale = c4.select_slider("Input scale", [0.01, 0.1, 1.0], first["input_scale"], key="gradients_scale")
    links.publish("gradients_", sigma=f"{sigma:g}", length=length)
    curves = G.flow_curves(length, sigma, forget_bias, scale)
    st.image(G.flow_svg(curves, sigma), width="stretch")
    far = {name: y[-1] for name, y in curves.items()}
    st.caption(f"{G.HIDDEN} units, every W_hh block = σ × a random orthogonal matrix, Gaussian inputs, "
               f"L_T = u·h_T with a unit vector u (so the curves start at 1). At k = {length - 1}: "
               + ", ".join(f"{n} {v:.2g}" for n, v in far.items())
               + f"; σ^k = {sigma ** (length - 1):.2g}. With small inputs tanh' ≈ 1 and the RNN follows σ^k; "
               "large inputs saturate tanh and shrink every factor. σ > 1 lets gradients explode, it does not "
               "force them to. A forget bias of 5 keeps f ≈ 0.99 and the LSTM's cell gradient (dashed) alive "
               "over hundreds of steps.")


def flow_section() -> None:
    st.markdown("How much of the loss's gradient reaches the state k steps back, for freshly initialised cells. "
                "Move σ above 1 to see it explode in the RNN, below 1 to see it vanish.")
    flow_panel()
    with st.expander("Why: the gradient is a product of one Jacobian per step"):
        why_jacobians()


def why_jacobians() -> None:
    st.markdown("A vanilla RNN updates its state with")
    st.latex(r"h_t = \tanh(W_{hh} h_{t-1} + W_{xh} x_t)")
    st.markdown("so backpropagating from $h_t$ to $h_{t-1}$ multiplies by $W_{hh}^\\top$ (and by $\\tanh'$, "
                "which is at most 1), once per step:")
    st.latex(r"\frac{\partial L_T}{\partial h_t} = \Big(\prod_{s=t+1}^{T} W_{hh}^\top\,"
             r"\mathrm{diag}(1 - h_s^2)\Big)\frac{\partial L_T}{\partial h_T}, \qquad "
             r"\Big\|\frac{\partial L_T}{\partial h_t}\Big\| \le \sigma_{\max}(W_{hh})^{\,T-t}\,"
             r"\Big\|\frac{\partial L_T}{\partial h_T}\Big\|")
    st.markdown("Largest singular value $\\sigma > 1$: the gradient can **explode**; $\\sigma < 1$: it **vanishes**. "
                "The LSTM keeps a cell state that the backward pass crosses by an elementwise product with the "
                "forget gate only, no matrix multiply:")
    st.latex(r"c_t = f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t), \qquad "
             r"\frac{\partial c_t}{\partial c_{t-1}} = \mathrm{diag}(f)")



@st.fragment
def clip_panel() -> None:
    tau = st.select_slider("Clipping threshold τ", G.CLIP_TAUS, G.CLIP_DEFAULT_TAU, key="gradients_tau")
    links.publish("gradients_", tau=tau)
    free, clipped = G.memory_run(**G.CLIP_RUN, clip=None), G.memory_run(**G.CLIP_RUN, clip=tau)
    st.plotly_chart(G.training_figure({"no clipping": free, f"clipped at τ={tau:g}": clipped}, tau),
                    key="gradients_clip", config={"displayModeBar": False})
    st.caption(f"A vanilla RNN (32 units, W_hh orthogonal) trained with plain SGD (lr {G.CLIP_RUN['lr']}) on the "
               f"copy problem: recall a symbol out of 4 seen {G.CLIP_RUN['gap']} steps earlier. Held-out loss "
               f"after {G.CLIP_RUN['steps']} steps: no clipping {free.eval_loss / G.LN2:.3f} bits "
               f"(accuracy {free.eval_accuracy:.0%}), clipped {clipped.eval_loss / G.LN2:.3f} "
               f"({clipped.eval_accuracy:.0%}); guessing scores {free.chance_loss / G.LN2:.3f}. Largest step taken: "
               f"{free.update_norm.max():.2g} without clipping, {clipped.update_norm.max():.2g} "
               f"(≤ lr·τ = {G.CLIP_RUN['lr'] * tau:.2g}) with it. A loose threshold (3 or more) lets the big "
               "steps through; a tight one (0.1) makes every step small and learning slow.")


def clipping_section() -> None:
    st.markdown("If the gradient's norm is above a threshold τ, scale it down to τ before the update; the step "
                "keeps its direction and its size is bounded:")
    st.latex(r"g \leftarrow g \cdot \min\Big(1, \frac{\tau}{\|g\|}\Big)")
    clip_panel()

@st.fragment
def bptt_panel() -> None:
    gap = G.BPTT_RUN["gap"]
    window = st.select_slider("Short window k (steps)", G.BPTT_WINDOWS, G.BPTT_DEFAULT_WINDOW,
                              key="gradients_window")
    short, full = G.memory_run(**G.BPTT_RUN, bptt=window), G.memory_run(**G.BPTT_RUN, bptt=gap + 1)
    st.plotly_chart(G.training_figure({f"window {window} < gap": short, f"window {gap + 1} > gap": full}),
                    key="gradients_bptt", config={"displayModeBar": False})
    st.caption(f"A GRU (32 units, Adam) on the copy problem with a gap of {gap} steps. Held-out loss: window "
               f"{window}: {short.eval_loss / G.LN2:.3f} bits ({short.eval_accuracy:.0%} right), window {gap + 1}: "
               f"{full.eval_loss / G.LN2:.3f} ({full.eval_accuracy:.0%}); guessing {short.chance_loss / G.LN2:.3f}.")


def bptt_section() -> None:
    st.markdown("Long sequences are trained in windows of $k$ steps: the state is carried forward from window to "
                "window, but the gradient stops at the window's start. Whatever must be learned across more than "
                "$k$ steps gets no error signal.")
    bptt_panel()

@st.fragment
def text_panel(found: list) -> None:
    length = st.slider("Characters read (T)", 10, 1000, G.TEXT_LENGTH, 10, key="gradients_text_length")
    text = G.real_text(length)
    with st.expander(f"The text ({min(len(text), length + 1)} characters; edit it)"):
        text = st.text_area("Text", text, key=f"gradients_text_{length}", label_visibility="collapsed")
    text = text[:length + 1]
    if len(text) < 2:
        st.error("Give at least two characters of text.")
        return
    curves = G.text_curves(tuple(str(c.path) for c in found), text, tuple(c.card.get("steps") for c in found))
    rnn = next((name for name in curves if name.endswith("rnn")), None)
    st.image(G.flow_svg({n: y for n, (y, _) in curves.items()}, curves[rnn][1] if rnn else None, fit=rnn),
             width="stretch")
    st.caption("‖∂L_T/∂h_t‖ of the top layer of each trained model, L_T = cross-entropy of the last character. "
               + ", ".join(f"{n}: σ_max(stacked W_hh) = {s:.2f}, at k = {len(y) - 1}: {y[-1]:.2g}"
                           for n, (y, s) in curves.items())
               + ". σ^k (dotted, from the RNN's first value) is the bound on the RNN's curve, drawn until it "
               "leaves the chart; ρ^k (dash-dot) is the factor per step the RNN shows on average: with σ > 1 the "
               "gradient may grow, and tanh's saturation is what makes it vanish.")


def text_section() -> None:
    found, missing = G.comparison()
    for msg in missing:
        st.info(msg)
    if found:
        st.markdown("Character models trained on the same Linux kernel C code, sized to about the same number "
                    "of parameters. Below them: how far back the error of the last character reaches in each.")
        for col, ckpt in zip(st.columns(len(found)), found):
            with col:
                G.show_checkpoint(ckpt)
        text_panel(found)


SECTIONS = {"Gradient flow back through time": flow_section, "Gradient clipping": clipping_section,
            "Truncated backpropagation through time": bptt_section, "RNN vs GRU vs LSTM on real text": text_section}
links.adopt("gradients_", sigma=links.number(0.5, 2.0), fbias=links.number(-2.0, 6.0), length=links.number(10, 1000, int),
            scale=links.choice([0.01, 0.1, 1.0]), tau=links.choice(G.CLIP_TAUS), panel=links.choice(SECTIONS))
lazy_tabs(SECTIONS, "gradients_panel", keep=("gradients_",))
