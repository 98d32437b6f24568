"""Wrong and differently-written answers for Module 4 (recurrent networks).

Each value is the full source of an answer cell. WRONG ones must fail their own test cell and no
other; CORRECT ones must pass everything. The mistakes issue 8 lists are all here: the hidden state
not carried between steps, tanh applied twice, BPTT that stops after one step, clipping each
gradient on its own, LSTM gates in the wrong order, the GRU's update gate the wrong way round, and
padding counted in the mean.
"""

_STEP_HDR = '''def rnn_step(x_t: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
'''
_FWD_HDR = '''def rnn_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
'''
_BACK = '''def rnn_backward(dh: np.ndarray, cache: tuple) -> tuple:
    x, h0, Wx, Wh, b, h = cache
    N, T, D = x.shape
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    carry = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        da = (dh[:, t] + CARRY) * (1 - h[:, t] ** 2)
        prev = h0 if t == 0 else h[:, t - 1]
        dx[:, t] = da @ Wx.T
        dWx ACC x[:, t].T @ da
        dWh ACC prev.T @ da
        db ACC da.sum(0)
        carry = da @ Wh.T
    return dx, carry, dWx, dWh, db
'''


def _back(carry: str = "carry", acc: str = "+=") -> str:
    return _BACK.replace("CARRY", carry).replace("ACC", acc)


_CLIP_HDR = '''def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
'''
_LSTM = '''def lstm_step(x_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    H = h_prev.shape[1]
    z = np.concatenate([x_t, h_prev], axis=1) @ W + b
    s = lambda v: 1 / (1 + np.exp(-v))
    blocks = [z[:, k * H:(k + 1) * H] for k in range(4)]
    ORDER
    c = f * c_prev + i * g
    return o * np.tanh(c), c
'''


def _lstm(order: str = "zi, zf, zg, zo = blocks", post: str = "") -> str:
    body = order + "\n    i, f, g, o = s(zi), s(zf), np.tanh(zg), s(zo)" + post
    return _LSTM.replace("ORDER", body)


_GRU = '''def gru_step(x_t: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, bx: np.ndarray, bh: np.ndarray) -> np.ndarray:
    H = h_prev.shape[1]
    s = lambda v: 1 / (1 + np.exp(-v))
    r = s(x_t @ Wx[:, :H] + bx[:H] + h_prev @ Wh[:, :H] + bh[:H])
    z = s(x_t @ Wx[:, H:2 * H] + bx[H:2 * H] + h_prev @ Wh[:, H:2 * H] + bh[H:2 * H])
    n = np.tanh(x_t @ Wx[:, 2 * H:] + bx[2 * H:] + CANDIDATE)
    return UPDATE
'''


def _gru(candidate: str = "r * (h_prev @ Wh[:, 2 * H:] + bh[2 * H:])", update: str = "(1 - z) * n + z * h_prev") -> str:
    return _GRU.replace("CANDIDATE", candidate).replace("UPDATE", update)


_MCE_HDR = '''def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
'''
_CHARLM = '''class CharLM(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_size: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        BODY
'''
_SAMPLE_HDR = '''def sample(model: nn.Module, prompt: str, n: int, temperature: float = 1.0) -> str:
'''
_SAMPLE = _SAMPLE_HDR + '''    model.eval()
    dev = next(model.parameters()).device
    ids = []
    with torch.no_grad():
        logits, state = model(encode(prompt)[None].to(dev))
        for _ in range(n):
            PICK
            ids.append(int(nxt))
            FEED
    return decode(ids)
'''


def _sample(pick: str = "nxt = torch.multinomial(torch.softmax(logits[0, -1] / temperature, -1), 1)",
            feed: str = "logits, state = model(nxt.reshape(1, 1), state)") -> str:
    return _SAMPLE.replace("PICK", pick).replace("FEED", feed)


_ROWS = '''class RowClassifier(nn.Module):
    def __init__(self, input_size: int = 8, hidden_size: int = 64, n_classes: int = 10):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, n_classes)

    def forward(self, x):
        out, h = self.gru(x)
        return self.fc(READ)
'''
_FORECASTER = '''class Forecaster(nn.Module):
    def __init__(self, hidden_size: int = 32):
        super().__init__()
        self.rnn = nn.GRU(1, hidden_size, batch_first=True, bidirectional=BIDIR)
        self.head = nn.Linear(hidden_size * (2 if BIDIR else 1), 1)

    def forward(self, x, state=None):
        out, new_state = self.rnn(x, STATE)
        return OUT, new_state
'''


def _forecaster(bidir: str = "False", state: str = "state", out: str = "torch.add(x, self.head(out))") -> str:
    return _FORECASTER.replace("BIDIR", bidir).replace("STATE", state).replace("OUT", out)


WRONG = {
    "q1_answer": {"many_to_one": 'q1_answer = "c"\n'},
    "q2_answer": {"reset": 'q2_answer = "a"\n'},
    "q3_answer": {"bidirectional": 'q3_answer = "a"\n'},
    "rnn_step": {
        "tanh_twice": _STEP_HDR + '''    h_next = np.tanh(np.tanh(x_t @ Wx + h_prev @ Wh + b))
    return h_next, (x_t, h_prev, Wx, Wh, b, h_next)
''',
        "no_bias": _STEP_HDR + '''    h_next = np.tanh(x_t @ Wx + h_prev @ Wh)
    return h_next, (x_t, h_prev, Wx, Wh, b, h_next)
''',
        "weights_transposed": _STEP_HDR + '''    h_next = np.tanh(x_t @ Wx + h_prev @ Wh.T + b)
    return h_next, (x_t, h_prev, Wx, Wh, b, h_next)
''',
    },
    "rnn_forward": {
        "state_not_carried": _FWD_HDR + '''    h = np.stack([np.tanh(x[:, t] @ Wx + h0 @ Wh + b) for t in range(x.shape[1])], axis=1)
    return h, (x, h0, Wx, Wh, b, h)
''',
        "off_by_one_states": _FWD_HDR + '''    states, h_t = [], h0
    for t in range(x.shape[1]):
        states.append(h_t)
        h_t = np.tanh(x[:, t] @ Wx + h_t @ Wh + b)
    h = np.stack(states, axis=1)
    return h, (x, h0, Wx, Wh, b, h)
''',
    },
    "rnn_backward": {
        "stops_after_one_step": _back(carry="0"),
        "weights_not_accumulated": _back(acc="="),
    },
    "clip_by_global_norm": {
        "each_gradient_on_its_own": _CLIP_HDR + '''    out = []
    for g in grads:
        n = np.linalg.norm(g)
        out.append(g * max_norm / n if n > max_norm else g)
    return out, float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
''',
        "norm_after_clipping": _CLIP_HDR + '''    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [g * scale for g in grads], float(norm * scale)
''',
        "always_rescaled": _CLIP_HDR + '''    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * max_norm / (norm + 1e-12) for g in grads], float(norm)
''',
        "delegates_to_torch": _CLIP_HDR + '''    ts = [torch.tensor(g) for g in grads]
    params = [torch.zeros_like(t, requires_grad=True) for t in ts]
    for p, t in zip(params, ts):
        p.grad = t
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad.numpy() for p in params], float(norm)
''',
    },
    "lstm_step": {
        "gates_in_ifog_order": _lstm(order="zi, zf, zo, zg = blocks"),
        "forget_and_input_swapped": _lstm(order="zf, zi, zg, zo = blocks"),
        "h_from_c_prev": _LSTM.replace("ORDER", "zi, zf, zg, zo = blocks\n    i, f, g, o = s(zi), s(zf), np.tanh(zg), s(zo)")
                              .replace("return o * np.tanh(c), c", "return o * np.tanh(c_prev), c"),
    },
    "gru_step": {
        "update_gate_wrong_way_round": _gru(update="z * n + (1 - z) * h_prev"),
        "reset_after_bias": _gru(candidate="r * (h_prev @ Wh[:, 2 * H:]) + bh[2 * H:]"),
    },
    "masked_cross_entropy": {
        "padding_counted_in_mean": _MCE_HDR + '''    N, T, V = logits.shape
    mask = torch.arange(T)[None, :] < lengths[:, None]
    losses = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none").reshape(N, T)
    return (losses * mask).sum() / (N * T)
''',
        "no_mask": _MCE_HDR + '''    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
''',
        "mean_of_sequence_means": _MCE_HDR + '''    N, T, V = logits.shape
    mask = (torch.arange(T)[None, :] < lengths[:, None]).to(logits.dtype)
    losses = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none").reshape(N, T)
    return ((losses * mask).sum(1) / mask.sum(1)).mean()
''',
    },
    "CharLM": {
        "state_ignored": _CHARLM.replace("BODY", "out, state = self.rnn(self.embed(x))\n        return self.head(out), state"),
        "bidirectional": _CHARLM.replace("nn.LSTM(embed_dim, hidden_size, batch_first=True)",
                                         "nn.LSTM(embed_dim, hidden_size // 2, batch_first=True, bidirectional=True)")
                                .replace("BODY", "out, state = self.rnn(self.embed(x), state)\n        return self.head(out), state"),
    },
    "sample": {
        "temperature_multiplies": _sample(pick="nxt = torch.multinomial(torch.softmax(logits[0, -1] * temperature, -1), 1)"),
        "greedy_argmax": _sample(pick="nxt = torch.softmax(logits[0, -1] / temperature, -1).argmax().reshape(1)"),
        "state_dropped": _sample(feed="logits, state = model(nxt.reshape(1, 1))"),
        "first_position_scores": _sample(pick="nxt = torch.multinomial(torch.softmax(logits[0, 0] / temperature, -1), 1)"),
    },
    "RowClassifier": {
        "first_step_output": _ROWS.replace("READ", "out[:, 0]"),
        "order_free_mean": _ROWS.replace("READ", "self.gru(x.mean(1, keepdim=True))[0][:, -1]"),
    },
    "Forecaster": {
        "bidirectional_looks_ahead": _forecaster(bidir="True", state="None"),
        "state_ignored": _forecaster(state="None"),
        "level_not_change": _forecaster(out="self.head(out)"),
    },
}

CORRECT = {
    "q1_answer": {"same_answer_spelled_again": 'q1_answer = "b"  # one-to-many\n'},
    "rnn_step": {
        "einsum": _STEP_HDR + '''    a = np.einsum("nd,dh->nh", x_t, Wx) + np.einsum("nk,kh->nh", h_prev, Wh) + b[None, :]
    h_next = (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1) if np.abs(a).max() < 300 else np.tanh(a)
    return h_next, (x_t, h_prev, Wx, Wh, b, h_next)
''',
        "stacked_weights": _STEP_HDR + '''    h_next = np.tanh(np.hstack([x_t, h_prev]) @ np.vstack([Wx, Wh]) + b)
    return h_next, (x_t, h_prev, Wx, Wh, b, h_next)
''',
    },
    "rnn_forward": {
        "calls_rnn_step": _FWD_HDR + '''    states, h_t = [], h0
    for t in range(x.shape[1]):
        h_t, _ = rnn_step(x[:, t], h_t, Wx, Wh, b)
        states.append(h_t)
    h = np.stack(states, axis=1)
    return h, (x, h0, Wx, Wh, b, h)
''',
        "per_sequence_loops": _FWD_HDR + '''    N, T, _ = x.shape
    h = np.empty((N, T, Wh.shape[0]))
    for n in range(N):
        prev = h0[n]
        for t in range(T):
            prev = np.tanh(x[n, t] @ Wx + prev @ Wh + b)
            h[n, t] = prev
    return h, (x, h0, Wx, Wh, b, h)
''',
    },
    "rnn_backward": {
        "recomputes_preactivation": '''def rnn_backward(dh: np.ndarray, cache: tuple) -> tuple:
    x, h0, Wx, Wh, b, h = cache
    N, T, D = x.shape
    prevs = np.concatenate([h0[:, None], h[:, :-1]], axis=1)  # h_{t-1} for every t
    a = x @ Wx + prevs @ Wh + b
    grads_x, grads_a = [None] * T, [None] * T
    g = np.zeros_like(h0)
    for t in reversed(range(T)):
        grads_a[t] = (dh[:, t] + g) / np.cosh(a[:, t]) ** 2
        grads_x[t] = grads_a[t] @ Wx.T
        g = grads_a[t] @ Wh.T
    da = np.stack(grads_a, axis=1)
    dWx = np.einsum("ntd,nth->dh", x, da)
    dWh = np.einsum("ntk,nth->kh", prevs, da)
    return np.stack(grads_x, axis=1), g, dWx, dWh, da.sum(axis=(0, 1))
''',
    },
    "clip_by_global_norm": {
        "flatten_and_in_place": _CLIP_HDR + '''    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads]))
    if norm > max_norm:
        for g in grads:
            g *= max_norm / (norm + 1e-6)
    return grads, norm
''',
    },
    "lstm_step": {
        "separate_matrices": '''def lstm_step(x_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    D, H = x_t.shape[1], h_prev.shape[1]
    Wx, Wh = W[:D], W[D:]
    gates = np.split(x_t @ Wx + h_prev @ Wh + b, 4, axis=1)
    i, f, o = (0.5 * (1 + np.tanh(0.5 * gates[k])) for k in (0, 1, 3))  # sigmoid written with tanh
    g = np.tanh(gates[2])
    c_next = f * c_prev + i * g
    return o * np.tanh(c_next), c_next
''',
    },
    "gru_step": {
        "interpolation_form": _gru(update="n + z * (h_prev - n)"),
    },
    "masked_cross_entropy": {
        "ignore_index": _MCE_HDR + '''    T = logits.shape[1]
    padding = torch.arange(T)[None, :] >= lengths[:, None]
    t = targets.masked_fill(padding, -100)
    return F.cross_entropy(logits.transpose(1, 2), t, ignore_index=-100)
''',
        "loop_over_sequences": _MCE_HDR + '''    total, count = 0.0, 0
    for n in range(logits.shape[0]):
        L = int(lengths[n])
        total = total + F.cross_entropy(logits[n, :L], targets[n, :L], reduction="sum")
        count += L
    return total / count
''',
    },
    "CharLM": {
        "log_softmax_scores": _CHARLM.replace("BODY", '''if state is None:
            out, state = self.rnn(self.embed(x))
        else:
            out, state = self.rnn(self.embed(x), state)
        return F.log_softmax(self.head(out), dim=-1), state'''),
    },
    "sample": {
        "rereads_everything": _SAMPLE_HDR + '''    model.eval()
    dev = next(model.parameters()).device
    text = prompt
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(encode(text)[None].to(dev))
            probs = F.softmax(logits[0, -1] / temperature, dim=-1)
            text += VOCAB[torch.multinomial(probs, 1).item()]
    return text[len(prompt):]
''',
        "categorical": _sample(pick="nxt = torch.distributions.Categorical(logits=logits[0, -1] / temperature).sample()",
                               feed="logits, state = model(torch.tensor([[int(nxt)]], device=dev), state)"),
    },
    "RowClassifier": {
        "last_output": _ROWS.replace("READ", "out[:, -1]"),
    },
    "Forecaster": {
        "functional_add": _forecaster(),
    },
}

# Right value, no gradient: the training loop's .backward() would fail or train nothing.
WRONG["masked_cross_entropy"]["value_without_gradient"] = _MCE_HDR + '''    N, T, V = logits.shape
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return F.cross_entropy(logits.detach()[mask], targets[mask])
'''
# Right value, gradient through the padding: mask applied after the padding's logits entered a sum.
WRONG["masked_cross_entropy"]["padding_in_the_gradient"] = _MCE_HDR + '''    N, T, V = logits.shape
    mask = torch.arange(T)[None, :] < lengths[:, None]
    losses = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none").reshape(N, T)
    leak = 1e-3 * (logits * (~mask)[..., None]).sum()
    return (losses * mask).sum() / mask.sum() + leak - leak.detach()
'''
