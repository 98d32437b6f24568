"""Wrong and differently-written answers for Module 2 (backpropagation and training).

Each value is the full source of an answer cell. See tests/test_variants.py for how they are used.
"""

# --------------------------------------------------------------------------------------------
# graph_grads
GRAPH_HEAD = "def graph_grads(a: float, b: float, c: float) -> tuple[float, float, float]:\n"

# --------------------------------------------------------------------------------------------
NUMGRAD_HEAD = "def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:\n"

LOGISTIC_HEAD = ("def logistic_cost_and_grads(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray)"
                 " -> tuple[float, np.ndarray, float]:\n")

WRONG = {
    "graph_grads": {
        "swapped_b_c": GRAPH_HEAD + "    return 3.0, 3.0 * b, 3.0 * c\n",
        "forgot_outer_factor": GRAPH_HEAD + "    return 1.0, c, b\n",
    },
    "numerical_gradient": {
        "one_sided": NUMGRAD_HEAD + """\
    grad = np.zeros(x.shape)
    fx = float(f(x))
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        grad[i] = (float(f(x)) - fx) / h
        x[i] = old
    return grad
""",
        "forgets_to_restore_x": NUMGRAD_HEAD + """\
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = float(f(x))
        x[i] = old - h
        fm = float(f(x))
        grad[i] = (fp - fm) / (2 * h)
    return grad
""",
        "ignores_h": NUMGRAD_HEAD + """\
    grad = np.zeros(x.shape)
    eps = 1e-6
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        fp = float(f(x))
        x[i] = old - eps
        fm = float(f(x))
        x[i] = old
        grad[i] = (fp - fm) / (2 * eps)
    return grad
""",
    },
    "logistic_cost_and_grads": {
        "sum_not_mean": LOGISTIC_HEAD + """\
    a = 1 / (1 + np.exp(-(X @ w + b)))
    cost = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    dz = a - y
    return float(cost), X.T @ dz, float(np.sum(dz))
""",
        "dz_sign_flipped": LOGISTIC_HEAD + """\
    m = X.shape[0]
    a = 1 / (1 + np.exp(-(X @ w + b)))
    cost = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    dz = y - a
    return float(cost), X.T @ dz / m, float(np.mean(dz))
""",
        "forgot_sigmoid_derivative_simplification": LOGISTIC_HEAD + """\
    m = X.shape[0]
    a = 1 / (1 + np.exp(-(X @ w + b)))
    cost = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    dz = (a - y) * a * (1 - a)
    return float(cost), X.T @ dz / m, float(np.mean(dz))
""",
    },
    "affine_forward": {
        "forgets_bias": """\
def affine_forward(x, w, b):
    return x @ w, (x, w, b)
""",
        "wrong_cache": """\
def affine_forward(x, w, b):
    out = x @ w + b
    return out, (out, w, b)
""",
    },
    "affine_backward": {
        "db_not_summed": """\
def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout
""",
        "dw_transposed": """\
def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, dout.T @ x, dout.sum(axis=0)
""",
        "db_mean_instead_of_sum": """\
def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
""",
    },
    "relu_forward": {
        "abs_instead_of_max": """\
def relu_forward(x):
    return np.abs(x), x
""",
    },
    "relu_backward": {
        "passes_gradient_at_negatives": """\
def relu_backward(dout, cache):
    return dout.copy()
""",
        "mask_from_dout": """\
def relu_backward(dout, cache):
    return dout * (dout > 0)
""",
    },
    "softmax_cross_entropy": {
        "not_divided_by_N": """\
def softmax_cross_entropy(logits, y):
    N = logits.shape[0]
    s = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).sum()
    d = p.copy()
    d[np.arange(N), y] -= 1
    return float(loss), d
""",
        "no_max_subtraction": """\
def softmax_cross_entropy(logits, y):
    N = logits.shape[0]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    d = p.copy()
    d[np.arange(N), y] -= 1
    return float(loss), d / N
""",
        "gradient_not_divided_by_N": """\
def softmax_cross_entropy(logits, y):
    N = logits.shape[0]
    s = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    d = p.copy()
    d[np.arange(N), y] -= 1
    return float(loss), d
""",
    },
    "two_layer_net_loss": {
        "relu_mask_missing": """\
def two_layer_net_loss(params, X, y):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    z1 = X @ W1 + b1
    h = np.maximum(0, z1)
    s = h @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    d2 = p.copy()
    d2[np.arange(N), y] -= 1
    d2 /= N
    d1 = d2 @ W2.T
    return float(loss), {"W1": X.T @ d1, "b1": d1.sum(0), "W2": h.T @ d2, "b2": d2.sum(0)}
""",
        "W2_gradient_uses_preactivation": """\
def two_layer_net_loss(params, X, y):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    z1 = X @ W1 + b1
    h = np.maximum(0, z1)
    s = h @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    d2 = p.copy()
    d2[np.arange(N), y] -= 1
    d2 /= N
    d1 = (d2 @ W2.T) * (z1 > 0)
    return float(loss), {"W1": X.T @ d1, "b1": d1.sum(0), "W2": z1.T @ d2, "b2": d2.sum(0)}
""",
    },
    "minibatches": {
        "drops_last_partial_batch": """\
def minibatches(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    n_full = len(X) // batch_size
    return [(X[order[k * batch_size:(k + 1) * batch_size]], y[order[k * batch_size:(k + 1) * batch_size]])
            for k in range(n_full)]
""",
        "not_shuffled": """\
def minibatches(X, y, batch_size, rng):
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]
""",
        "shuffles_X_and_y_separately": """\
def minibatches(X, y, batch_size, rng):
    ox, oy = rng.permutation(len(X)), rng.permutation(len(X))
    return [(X[ox[i:i + batch_size]], y[oy[i:i + batch_size]]) for i in range(0, len(X), batch_size)]
""",
        "sampling_with_replacement": """\
def minibatches(X, y, batch_size, rng):
    out = []
    for i in range(0, len(X), batch_size):
        idx = rng.integers(0, len(X), min(batch_size, len(X) - i))
        out.append((X[idx], y[idx]))
    return out
""",
    },
    "sgd_step": {
        "ascends": """\
def sgd_step(w, dw, state, lr=0.01):
    return w + lr * dw
""",
    },
    "momentum_step": {
        "lr_inside_velocity": """\
def momentum_step(w, dw, state, lr=0.01, mu=0.9):
    v = mu * state.get("v", np.zeros_like(w)) - lr * dw
    state["v"] = v
    return w + v
""",
        "ema_form": """\
def momentum_step(w, dw, state, lr=0.01, mu=0.9):
    v = mu * state.get("v", np.zeros_like(w)) + (1 - mu) * dw
    state["v"] = v
    return w - lr * v
""",
        "velocity_not_stored": """\
def momentum_step(w, dw, state, lr=0.01, mu=0.9):
    v = mu * np.zeros_like(w) + dw
    return w - lr * v
""",
    },
    "nesterov_step": {
        "plain_momentum": """\
def nesterov_step(w, dw, state, lr=0.01, mu=0.9):
    v = mu * state.get("v", np.zeros_like(w)) + dw
    state["v"] = v
    return w - lr * v
""",
        "lookahead_uses_old_velocity": """\
def nesterov_step(w, dw, state, lr=0.01, mu=0.9):
    v_old = state.get("v", np.zeros_like(w))
    state["v"] = mu * v_old + dw
    return w - lr * (dw + mu * v_old)
""",
    },
    "adagrad_step": {
        "no_accumulation": """\
def adagrad_step(w, dw, state, lr=0.01, eps=1e-10):
    return w - lr * dw / (np.sqrt(dw**2) + eps)
""",
        "eps_inside_sqrt": """\
def adagrad_step(w, dw, state, lr=0.01, eps=1e-10):
    G = state.get("G", np.zeros_like(w)) + dw**2
    state["G"] = G
    return w - lr * dw / np.sqrt(G + eps)
""",
    },
    "rmsprop_step": {
        "missing_one_minus_alpha": """\
def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    s = alpha * state.get("s", np.zeros_like(w)) + dw**2
    state["s"] = s
    return w - lr * dw / (np.sqrt(s) + eps)
""",
        "eps_inside_sqrt": """\
def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    s = alpha * state.get("s", np.zeros_like(w)) + (1 - alpha) * dw**2
    state["s"] = s
    return w - lr * dw / np.sqrt(s + eps)
""",
    },
    "adam_step": {
        "sign_error": """\
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(t=t, m=m, v=v)
    return w + lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
""",
        "no_bias_correction": """\
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(m=m, v=v)
    return w - lr * m / (np.sqrt(v) + eps)
""",
        "step_count_not_kept": """\
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(m=m, v=v)
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
""",
        "eps_inside_sqrt": """\
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(t=t, m=m, v=v)
    return w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps)
""",
    },
    "adamw_step": {
        "l2_in_gradient": """\
def adamw_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    g = dw + weight_decay * w
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g**2
    state.update(t=t, m=m, v=v)
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
""",
        "decay_without_lr": """\
def adamw_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(t=t, m=m, v=v)
    return w - weight_decay * w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
""",
        "decays_the_updated_weights": """\
def adamw_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(t=t, m=m, v=v)
    w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w * (1 - lr * weight_decay)
""",
    },
    "train_one_epoch": {
        "forgets_zero_grad": """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
""",
        "forgets_model_train": """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
""",
        "mean_of_batch_means": """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    losses = []
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)
""",
        "zero_grad_between_backward_and_step": """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
""",
    },
    "evaluate": {
        "stays_in_train_mode": """\
def evaluate(model, loader, loss_fn, device):
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            total += loss_fn(logits, yb).item() * len(xb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            count += len(xb)
    return total / count, correct / count
""",
        "builds_a_graph": """\
def evaluate(model, loader, loss_fn, device):
    model.eval()
    total, correct, count = 0.0, 0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        logits = model(xb)
        total += loss_fn(logits, yb).item() * len(xb)
        correct += (logits.argmax(dim=1) == yb).sum().item()
        count += len(xb)
    return total / count, correct / count
""",
        "mean_of_batch_means": """\
def evaluate(model, loader, loss_fn, device):
    model.eval()
    losses, correct, count = [], 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            logits = model(xb.to(device))
            losses.append(loss_fn(logits, yb.to(device)).item())
            correct += (logits.argmax(dim=1) == yb.to(device)).sum().item()
            count += len(xb)
    return sum(losses) / len(losses), correct / count
""",
    },
    "batchnorm_forward": {
        "batch_stats_at_inference": """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    N = x.shape[0]
    mean, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    if train:
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var * N / (N - 1)
    return gamma * x_hat + beta, (x_hat, gamma, std)
""",
        "biased_running_var": """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    if train:
        mean, var = x.mean(axis=0), x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mean) / std
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var
        return gamma * x_hat + beta, (x_hat, gamma, std)
    return gamma * (x - state["running_mean"]) / np.sqrt(state["running_var"] + eps) + beta, None
""",
        "momentum_the_other_way": """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    if train:
        N = x.shape[0]
        mean, var = x.mean(axis=0), x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mean) / std
        state["running_mean"] = momentum * state["running_mean"] + (1 - momentum) * mean
        state["running_var"] = momentum * state["running_var"] + (1 - momentum) * var * N / (N - 1)
        return gamma * x_hat + beta, (x_hat, gamma, std)
    return gamma * (x - state["running_mean"]) / np.sqrt(state["running_var"] + eps) + beta, None
""",
        "unbiased_variance_for_normalising": """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    if train:
        mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)
        std = np.sqrt(var + eps)
        x_hat = (x - mean) / std
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var
        return gamma * x_hat + beta, (x_hat, gamma, std)
    return gamma * (x - state["running_mean"]) / np.sqrt(state["running_var"] + eps) + beta, None
""",
    },
    "batchnorm_backward": {
        "ignores_batch_statistics": """\
def batchnorm_backward(dout, cache):
    x_hat, gamma, std = cache
    return dout * gamma / std, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
""",
        "drops_variance_term": """\
def batchnorm_backward(dout, cache):
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dxh = dout * gamma
    dx = (N * dxh - dxh.sum(axis=0)) / (N * std)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
""",
    },
    "dropout_forward": {
        "no_rescaling": """\
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = rng.random(x.shape) >= p
    return x * mask, mask
""",
        "p_as_keep_probability": """\
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = (rng.random(x.shape) < p) / p
    return x * mask, mask
""",
        "scales_at_inference_too": """\
def dropout_forward(x, p, train, rng):
    if not train:
        return x * (1 - p), None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask
""",
    },
    "EarlyStopping": {
        "off_by_one_patience": """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad_epochs = float("inf"), 0

    def step(self, val_loss):
        if val_loss < self.best - self.min_delta:
            self.best, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs > self.patience
""",
        "counter_not_reset": """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad_epochs = float("inf"), 0

    def step(self, val_loss):
        if val_loss < self.best - self.min_delta:
            self.best = val_loss
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience
""",
        "ignores_min_delta": """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience = patience
        self.best, self.bad_epochs = float("inf"), 0

    def step(self, val_loss):
        if val_loss < self.best:
            self.best, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience
""",
    },
    "make_digits_model": {
        "single_linear_layer": """\
def make_digits_model():
    return nn.Sequential(nn.Linear(64, 10))
""",
        "wrong_output_size": """\
def make_digits_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 1))
""",
    },
}

CORRECT = {
    "graph_grads": {
        "closed_form": GRAPH_HEAD + "    return 3, 3 * c, 3 * b\n",
    },
    "numerical_gradient": {
        "copies_and_flat_index": NUMGRAD_HEAD + """\
    grad = np.zeros(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape)
        grad[k] = (f(x + e) - f(x - e)) / (2 * h)
    return grad.reshape(x.shape)
""",
    },
    "logistic_cost_and_grads": {
        "loop": LOGISTIC_HEAD + """\
    m, n = X.shape
    cost, dw, db = 0.0, np.zeros(n), 0.0
    for i in range(m):
        a = 1 / (1 + np.exp(-(X[i] @ w + b)))
        cost -= y[i] * np.log(a) + (1 - y[i]) * np.log(1 - a)
        dw += (a - y[i]) * X[i]
        db += a - y[i]
    return cost / m, dw / m, db / m
""",
        "stable_logaddexp": LOGISTIC_HEAD + """\
    z = X @ w + b
    cost = np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    dz = (1 / (1 + np.exp(-z)) - y) / len(y)
    return cost, dz @ X, dz.sum()
""",
    },
    "affine_forward": {
        "einsum": """\
def affine_forward(x, w, b):
    return np.einsum("nd,dm->nm", x, w) + b[None, :], (x, w, b)
""",
    },
    "affine_backward": {
        "loops_and_einsum": """\
def affine_backward(dout, cache):
    x, w, b = cache
    dx = np.einsum("nm,dm->nd", dout, w)
    dw = np.zeros_like(w)
    for n in range(x.shape[0]):
        dw += np.outer(x[n], dout[n])
    db = np.ones(dout.shape[0]) @ dout
    return dx, dw, db
""",
    },
    "relu_forward": {
        "where": """\
def relu_forward(x):
    return np.where(x > 0, x, 0.0), x
""",
    },
    "relu_backward": {
        "where_ge": """\
def relu_backward(dout, cache):
    return np.where(cache >= 0, dout, 0.0)
""",
    },
    "softmax_cross_entropy": {
        "logaddexp_reduce_and_one_hot": """\
def softmax_cross_entropy(logits, y):
    N, C = logits.shape
    lse = np.logaddexp.reduce(logits, axis=1, keepdims=True)
    onehot = np.eye(C)[y]
    loss = -np.sum(onehot * (logits - lse)) / N
    return loss, (np.exp(logits - lse) - onehot) / N
""",
    },
    "two_layer_net_loss": {
        "explicit_loops_over_examples": """\
def two_layer_net_loss(params, X, y):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    loss = 0.0
    for n in range(N):
        z1 = X[n] @ W1 + b1
        h = np.maximum(z1, 0)
        s = h @ W2 + b2
        s = s - s.max()
        p = np.exp(s) / np.exp(s).sum()
        loss -= np.log(p[y[n]]) / N
        d2 = p.copy()
        d2[y[n]] -= 1
        d2 /= N
        d1 = (W2 @ d2) * (z1 > 0)
        grads["W2"] += np.outer(h, d2)
        grads["b2"] += d2
        grads["W1"] += np.outer(X[n], d1)
        grads["b1"] += d1
    return loss, grads
""",
    },
    "minibatches": {
        "generator_with_shuffled_copy": """\
def minibatches(X, y, batch_size, rng):
    idx = np.arange(len(X))
    rng.shuffle(idx)
    for start in range(0, len(X), batch_size):
        chunk = idx[start:start + batch_size]
        yield X[chunk], y[chunk]
""",
        "array_split": """\
def minibatches(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    cuts = np.arange(batch_size, len(X), batch_size)
    return [(X[c], y[c]) for c in np.split(order, cuts)]
""",
    },
    "sgd_step": {
        "in_place": """\
def sgd_step(w, dw, state, lr=0.01):
    w -= lr * dw
    return w
""",
    },
    "momentum_step": {
        "first_step_copies_gradient": """\
def momentum_step(w, dw, state, lr=0.01, mu=0.9):
    if "buf" not in state:
        state["buf"] = dw.copy()
    else:
        state["buf"] = state["buf"] * mu + dw
    w -= lr * state["buf"]
    return w
""",
    },
    "nesterov_step": {
        "expanded_formula": """\
def nesterov_step(w, dw, state, lr=0.01, mu=0.9):
    v_old = state.get("v", np.zeros_like(w))
    state["v"] = mu * v_old + dw
    return w - lr * ((1 + mu) * dw + mu * mu * v_old)
""",
    },
    "adagrad_step": {
        "in_place_state": """\
def adagrad_step(w, dw, state, lr=0.01, eps=1e-10):
    if "sum" not in state:
        state["sum"] = np.zeros_like(w)
    state["sum"] += dw * dw
    return w - lr * dw / (np.sqrt(state["sum"]) + eps)
""",
    },
    "rmsprop_step": {
        "incremental_form": """\
def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):
    s = state.setdefault("sq", np.zeros_like(w))
    s += (1 - alpha) * (dw**2 - s)
    return w - lr * dw / (np.sqrt(s) + eps)
""",
    },
    "adam_step": {
        "torch_style_step_size": """\
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(w), exp_avg_sq=np.zeros_like(w))
    state["step"] += 1
    t = state["step"]
    state["exp_avg"] = state["exp_avg"] * beta1 + dw * (1 - beta1)
    state["exp_avg_sq"] = state["exp_avg_sq"] * beta2 + dw * dw * (1 - beta2)
    bc1, bc2 = 1 - beta1**t, 1 - beta2**t
    denom = np.sqrt(state["exp_avg_sq"]) / np.sqrt(bc2) + eps
    return w - (lr / bc1) * state["exp_avg"] / denom
""",
    },
    "adamw_step": {
        "decay_from_old_weights_in_one_line": """\
def adamw_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * dw
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * dw**2
    state.update(t=t, m=m, v=v)
    update = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w - lr * (update + weight_decay * w)
""",
    },
    "train_one_epoch": {
        "model_zero_grad_after_step": """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train(True)
    model.zero_grad()
    losses, sizes = [], []
    for xb, yb in loader:
        out = model(xb.to(device))
        loss = loss_fn(out, yb.to(device))
        loss.backward()
        optimizer.step()
        model.zero_grad(set_to_none=False)
        losses.append(float(loss.detach()))
        sizes.append(xb.shape[0])
    return float(np.average(losses, weights=sizes))
""",
    },
    "evaluate": {
        "inference_mode_and_concat": """\
def evaluate(model, loader, loss_fn, device):
    model.train(False)
    all_logits, all_y = [], []
    with torch.inference_mode():
        for xb, yb in loader:
            all_logits.append(model(xb.to(device)))
            all_y.append(yb.to(device))
        logits, ys = torch.cat(all_logits), torch.cat(all_y)
        per_sample = torch.stack([loss_fn(logits[i:i + 1], ys[i:i + 1]) for i in range(len(ys))])
        return per_sample.mean().item(), (logits.argmax(1) == ys).float().mean().item()
""",
    },
    "batchnorm_forward": {
        "in_place_running_stats": """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    if not train:
        std = np.sqrt(state["running_var"] + eps)
        return (x - state["running_mean"]) / std * gamma + beta, None
    N = x.shape[0]
    mu = x.sum(axis=0) / N
    centred = x - mu
    var = (centred**2).sum(axis=0) / N
    std = np.sqrt(var + eps)
    x_hat = centred / std
    state["running_mean"] *= 1 - momentum
    state["running_mean"] += momentum * mu
    state["running_var"] *= 1 - momentum
    state["running_var"] += momentum * (centred**2).sum(axis=0) / (N - 1)
    return x_hat * gamma + beta, (x_hat, gamma, std)
""",
    },
    "batchnorm_backward": {
        "staged_through_the_graph": """\
def batchnorm_backward(dout, cache):
    x_hat, gamma, std = cache
    N = dout.shape[0]
    xc = x_hat * std                       # x - mean
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dxc = dx_hat / std
    dstd = -(dx_hat * xc).sum(axis=0) / std**2
    dvar = dstd / (2 * std)
    dxc += 2 * xc * dvar / N
    dmean = -dxc.sum(axis=0)
    dx = dxc + dmean / N
    return dx, dgamma, dbeta
""",
    },
    "dropout_forward": {
        "binomial_mask": """\
def dropout_forward(x, p, train, rng):
    if train:
        keep = rng.binomial(1, 1 - p, size=x.shape)
        mask = keep / (1 - p)
        return x * mask, mask
    return x.copy(), None
""",
    },
    "EarlyStopping": {
        "counts_epochs_since_best": """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.history = []
        self.best = float("inf")
        self.best_index = -1

    @property
    def bad_epochs(self):
        return len(self.history) - 1 - self.best_index if self.history else 0

    def step(self, val_loss):
        self.history.append(val_loss)
        if val_loss < self.best - self.min_delta:
            self.best = val_loss
            self.best_index = len(self.history) - 1
        return self.bad_epochs >= self.patience
""",
    },
    "make_digits_model": {
        "plain_mlp_with_dropout": """\
def make_digits_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))
""",
    },
}



# --------------------------------------------------------------------------------------------
# Issue 15: from-scratch exercises may not delegate to PyTorch or course_utils' reference
# helpers; contracts beyond the values (caches, ints, attributes, aliasing, modes, devices,
# logits); float boundaries tested with values exact in binary.
WRONG["graph_grads"]["autograd_delegation"] = GRAPH_HEAD + """\
    ts = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in (a, b, c)]
    (3 * (ts[0] + ts[1] * ts[2])).backward()
    return tuple(t.grad.item() for t in ts)
"""
WRONG["numerical_gradient"].update({
    "returns_course_utils_numeric_gradient": NUMGRAD_HEAD + """\
    from course_utils.gradcheck import numeric_gradient
    return numeric_gradient(f, x, h=h)
""",
    "swallows_the_refusal": NUMGRAD_HEAD + """\
    try:
        from course_utils import gradcheck
        return gradcheck.numeric_gradient(f, x, h=h)
    except Exception:
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            fp = float(f(x))
            x[i] = old - h
            fm = float(f(x))
            x[i] = old
            grad[i] = (fp - fm) / (2 * h)
        return grad
""",
    "h_fixed_at_1e-4": NUMGRAD_HEAD + """\
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + 1e-4
        fp = float(f(x))
        x[i] = old - 1e-4
        fm = float(f(x))
        x[i] = old
        grad[i] = (fp - fm) / 2e-4
    return grad
""",
})
WRONG["logistic_cost_and_grads"]["autograd_delegation"] = LOGISTIC_HEAD + """\
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(float(b), dtype=torch.float64, requires_grad=True)
    cost = F.binary_cross_entropy_with_logits(torch.from_numpy(X) @ tw + tb, torch.from_numpy(y))
    cost.backward()
    return cost.item(), tw.grad.numpy(), tb.grad.item()
"""
WRONG["affine_forward"]["torch_linear"] = """\
def affine_forward(x, w, b):
    out = F.linear(torch.from_numpy(x), torch.from_numpy(w.T), torch.from_numpy(b)).numpy()
    return out, (x, w, b)
"""
WRONG["affine_backward"]["autograd_delegation"] = """\
def affine_backward(dout, cache):
    x, w, b = (torch.tensor(v, requires_grad=True) for v in cache)
    (x @ w + b).backward(torch.from_numpy(dout))
    return x.grad.numpy(), w.grad.numpy(), b.grad.numpy()
"""
WRONG["relu_backward"]["autograd_delegation"] = """\
def relu_backward(dout, cache):
    x = torch.tensor(cache, requires_grad=True)
    torch.relu(x).backward(torch.from_numpy(dout))
    return x.grad.numpy()
"""
WRONG["softmax_cross_entropy"]["autograd_delegation"] = """\
def softmax_cross_entropy(logits, y):
    s = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(s, torch.as_tensor(y))
    loss.backward()
    return loss.item(), s.grad.numpy()
"""
WRONG["two_layer_net_loss"]["autograd_delegation"] = """\
def two_layer_net_loss(params, X, y):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss = F.cross_entropy(torch.relu(torch.from_numpy(X) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"], torch.as_tensor(y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}
"""
WRONG["minibatches"]["torch_randperm"] = """\
def minibatches(X, y, batch_size, rng):
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(int(rng.integers(1 << 30)))).numpy()
    return [(X[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(X), batch_size)]
"""
WRONG["sgd_step"]["torch_optim_inside"] = """\
def sgd_step(w, dw, state, lr=0.01):
    p = torch.tensor(w, requires_grad=True)
    p.grad = torch.tensor(dw)
    torch.optim.SGD([p], lr=lr).step()
    return p.detach().numpy()
"""
WRONG["momentum_step"]["keeps_a_reference_to_dw"] = """\
def momentum_step(w, dw, state, lr=0.01, mu=0.9):
    if "v" not in state:
        state["v"] = dw          # the caller's array, not a copy
    else:
        state["v"] *= mu         # ... so this rewrites the first step's gradient
        state["v"] += dw
    return w - lr * state["v"]
"""
WRONG["adam_step"]["torch_optim_inside"] = """\
def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    p = torch.tensor(w, requires_grad=True)
    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
    if "torch" in state:
        opt.load_state_dict(state["torch"])
    p.grad = torch.tensor(dw)
    opt.step()
    state["torch"] = opt.state_dict()
    return p.detach().numpy()
"""
WRONG["batchnorm_forward"].update({
    "cache_holds_x_and_variance": """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    if train:
        N = x.shape[0]
        mean, var = x.mean(axis=0), x.var(axis=0)
        x_hat = (x - mean) / np.sqrt(var + eps)
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var * N / (N - 1)
        return gamma * x_hat + beta, (x, gamma, var)
    return gamma * (x - state["running_mean"]) / np.sqrt(state["running_var"] + eps) + beta, None
""",
    "torch_batch_norm": """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    rm, rv = torch.from_numpy(state["running_mean"].copy()), torch.from_numpy(state["running_var"].copy())
    out = F.batch_norm(torch.from_numpy(x), rm, rv, torch.from_numpy(gamma), torch.from_numpy(beta),
                       training=train, momentum=momentum, eps=eps).numpy()
    state["running_mean"], state["running_var"] = rm.numpy(), rv.numpy()
    if not train:
        return out, None
    std = np.sqrt(x.var(axis=0) + eps)
    return out, ((x - x.mean(axis=0)) / std, gamma, std)
""",
})
WRONG["batchnorm_backward"]["autograd_delegation"] = """\
def batchnorm_backward(dout, cache):
    x_hat, gamma, std = cache
    xt = torch.tensor(x_hat * std, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.zeros(len(gamma), dtype=torch.float64, requires_grad=True)
    eps = float(np.mean(std**2 - (x_hat * std).var(axis=0)))
    F.batch_norm(xt, None, None, gt, bt, training=True, eps=eps).backward(torch.from_numpy(dout))
    return xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()
"""
WRONG["dropout_forward"].update({
    "boolean_mask": """\
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    keep = rng.random(x.shape) >= p
    return x * keep / (1 - p), keep
""",
    "torch_dropout": """\
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    torch.manual_seed(int(rng.integers(1 << 30)))
    out = F.dropout(torch.from_numpy(x), p, training=True).numpy()
    mask = np.where(out != 0, 1 / (1 - p), 0.0)
    return out, mask
""",
})
WRONG["train_one_epoch"].update({
    "ignores_device": """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
""",
    "moves_inputs_but_not_labels": """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb = xb.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
""",
})
WRONG["evaluate"].update({
    "switches_back_to_train_mode": """\
def evaluate(model, loader, loss_fn, device):
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            total += loss_fn(logits, yb).item() * len(xb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            count += len(xb)
    model.train()
    return total / count, correct / count
""",
    "ignores_device": """\
def evaluate(model, loader, loss_fn, device):
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            logits = model(xb)
            total += loss_fn(logits, yb).item() * len(xb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            count += len(xb)
    return total / count, correct / count
""",
})
WRONG["EarlyStopping"].update({
    "no_bad_epochs_attribute": """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.wait = float("inf"), 0

    def step(self, val_loss):
        if val_loss < self.best - self.min_delta:
            self.best, self.wait = val_loss, 0
        else:
            self.wait += 1
        return self.wait >= self.patience
""",
    "float_bad_epochs": """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad_epochs = float("inf"), 0.0

    def step(self, val_loss):
        if val_loss < self.best - self.min_delta:
            self.best, self.bad_epochs = val_loss, 0.0
        else:
            self.bad_epochs += 1.0
        return self.bad_epochs >= self.patience
""",
    "best_moves_without_an_improvement": """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad_epochs = float("inf"), 0

    def step(self, val_loss):
        if val_loss < self.best - self.min_delta:
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        self.best = min(self.best, val_loss)
        return self.bad_epochs >= self.patience
""",
})
WRONG["make_digits_model"]["softmax_at_the_end"] = """\
def make_digits_model():
    return nn.Sequential(nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10), nn.Softmax(dim=1))
"""
WRONG["expected_initial_loss"] = {
    "one_over_c": "def expected_initial_loss(num_classes):\n    return 1.0 / num_classes\n",
    "log2": "def expected_initial_loss(num_classes):\n    return float(np.log2(num_classes))\n",
    "torch_delegation": (
        "def expected_initial_loss(num_classes):\n"
        "    return F.cross_entropy(torch.zeros(1, num_classes), torch.tensor([0])).item()\n"
    ),
}
OVERFIT_HEAD = "def overfit_small_batch(model, X, y, steps=200, lr=1e-2):\n"
WRONG["overfit_small_batch"] = {
    "forgets_zero_grad": OVERFIT_HEAD + """\
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
""",
    "records_the_loss_after_the_step": OVERFIT_HEAD + """\
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(X), y).backward()
        opt.step()
        with torch.no_grad():
            losses.append(F.cross_entropy(model(X), y).item())
    return losses
""",
    "sgd_instead_of_adam": OVERFIT_HEAD + """\
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
""",
}

CORRECT["numerical_gradient"]["works_on_a_copy"] = NUMGRAD_HEAD + """\
    x_work = x.astype(np.float64).copy()
    grad = np.empty_like(x_work)
    flat, g = x_work.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + h
        up = f(x_work)
        flat[k] = keep - h
        down = f(x_work)
        flat[k] = keep
        g[k] = (up - down) / (2 * h)
    return grad
"""
CORRECT["momentum_step"]["in_place_on_a_copy_of_dw"] = """\
def momentum_step(w, dw, state, lr=0.01, mu=0.9):
    if "v" not in state:
        state["v"] = np.array(dw, dtype=np.float64, copy=True)
    else:
        state["v"] *= mu
        state["v"] += dw
    w = w.copy()
    w -= lr * state["v"]
    return w
"""
CORRECT["dropout_forward"]["where_mask"] = """\
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = np.where(rng.random(x.shape) < p, 0.0, 1.0 / (1.0 - p))
    return x * mask, mask
"""
CORRECT["train_one_epoch"]["optimizer_step_with_closure"] = """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)

        def closure():
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        total += float(loss) * xb.shape[0]
        count += xb.shape[0]
    return total / count
"""
CORRECT["evaluate"]["device_keyword_and_running_sums"] = """\
def evaluate(model, loader, loss_fn, device):
    model.eval()
    sums = np.zeros(3)
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device=device), yb.to(device=device)
            logits = model(xb)
            n = yb.numel()
            sums += [loss_fn(logits, yb).item() * n, (logits.argmax(-1) == yb).sum().item(), n]
    return float(sums[0] / sums[2]), float(sums[1] / sums[2])
"""
CORRECT["EarlyStopping"]["margin_written_the_other_way"] = """\
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad_epochs = float("inf"), 0

    def step(self, val_loss):
        if self.best - val_loss > self.min_delta:
            self.best, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience
"""
CORRECT["make_digits_model"]["log_softmax_at_the_end"] = """\
def make_digits_model():
    return nn.Sequential(nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10), nn.LogSoftmax(dim=1))
"""
CORRECT["batchnorm_forward"]["std_from_np_std"] = """\
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.1, eps=1e-5):
    if not train:
        return gamma * (x - state["running_mean"]) / np.sqrt(state["running_var"] + eps) + beta, None
    n = len(x)
    std = np.sqrt(x.std(axis=0) ** 2 + eps)
    x_hat = (x - x.mean(axis=0)) / std
    state["running_mean"] = state["running_mean"] + momentum * (x.mean(axis=0) - state["running_mean"])
    state["running_var"] = state["running_var"] + momentum * (x.var(axis=0, ddof=1) - state["running_var"])
    return x_hat * gamma + beta, (x_hat, gamma, std)
"""
CORRECT["expected_initial_loss"] = {
    "minus_log_of_one_over_c": "def expected_initial_loss(num_classes):\n    return float(-np.log(1.0 / num_classes))\n",
    "math_log": "def expected_initial_loss(num_classes):\n    import math\n    return math.log(num_classes)\n",
}
CORRECT["overfit_small_batch"] = {
    "model_zero_grad_and_float": OVERFIT_HEAD + """\
    model.train(True)
    optimizer = torch.optim.Adam(params=list(model.parameters()), lr=lr)
    history = []
    step = 0
    while step < steps:
        model.zero_grad()
        logits = model(X)
        loss = nn.CrossEntropyLoss()(logits, y)
        history.append(float(loss))
        loss.backward()
        optimizer.step()
        step += 1
    return history
""",
}

FAILS = {}

# The looped version is shown only after the test (in a demo cell), so calling it earns nothing.
WRONG["logistic_cost_and_grads"]["calls_the_looped_version_from_the_lesson"] = (
    LOGISTIC_HEAD + "    return logistic_cost_and_grads_loop(w, b, X, y)\n"
)

# Importing torch under another name does not get round from_scratch either.
WRONG["two_layer_net_loss"]["torch_under_an_alias"] = """\
def two_layer_net_loss(params, X, y):
    import torch as _t
    tp = {k: _t.tensor(v, requires_grad=True) for k, v in params.items()}
    s = _t.relu(_t.from_numpy(X) @ tp["W1"] + tp["b1"]) @ tp["W2"] + tp["b2"]
    loss = _t.nn.functional.cross_entropy(s, _t.from_numpy(np.asarray(y)).long())
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in tp.items()}
"""

# The device argument must be the one used: a loop that moves batches to a device written into it
# passes every numeric test on a CPU and fails on the first GPU.
WRONG["train_one_epoch"]["hard_codes_cpu"] = """\
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to("cpu"), yb.to("cpu")
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
"""
WRONG["evaluate"]["never_moves_batches"] = """\
def evaluate(model, loader, loss_fn, device):
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            logits = model(xb)
            total += loss_fn(logits, yb).item() * len(xb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            count += len(xb)
    return total / count, correct / count
"""
