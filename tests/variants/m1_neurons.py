"""Variants of the m1_neurons answers: realistic mistakes (WRONG) and correct rewrites (CORRECT).

Each value is the full source of an answer cell. A wrong answer must fail its own test cell and no
other; a correct rewrite (loops, another formula, another library) must pass every test.
"""

NEURON_SIG = '''def neuron(x: np.ndarray, w: np.ndarray, b: float, activation: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
'''

WRONG = {
    "neuron": {
        "no_bias": NEURON_SIG + "    return activation(x @ w)\n",
        "activation_before_bias": NEURON_SIG + "    return activation(x @ w) + b\n",
        "elementwise_no_sum": NEURON_SIG + "    return activation(x * w + b)\n",
    },
    "sigmoid": {
        "exp_plus_z": "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(z))\n",
        "missing_one": "def sigmoid(z):\n    return 1.0 / np.exp(-z)\n",
    },
    "tanh": {
        "sinh_only": "def tanh(z):\n    return (np.exp(z) - np.exp(-z)) / 2\n",
        "sigmoid_instead": "def tanh(z):\n    return 1 / (1 + np.exp(-2 * z))\n",
    },
    "relu": {
        "abs": "def relu(z):\n    return np.abs(z)\n",
        "in_place": "def relu(z):\n    z[z < 0] = 0\n    return z\n",
        "np_max_not_maximum": "def relu(z):\n    return np.max(z, 0)\n",
    },
    "leaky_relu": {
        "ignores_alpha": "def leaky_relu(z, alpha=0.01):\n    return np.where(z > 0, z, 0.01 * z)\n",
        "alpha_on_positive_side": "def leaky_relu(z, alpha=0.01):\n    return np.where(z > 0, alpha * z, z)\n",
    },
    "gelu": {
        "tanh_approximation": (
            "def gelu(z):\n"
            "    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))\n"
        ),
        "sigmoid_approximation": "def gelu(z):\n    return z / (1 + np.exp(-1.702 * z))\n",
        "missing_sqrt2": "def gelu(z):\n    from scipy.special import erf\n    return 0.5 * z * (1 + erf(z))\n",
    },
    "softmax": {
        "no_max_subtraction": (
            "def softmax(z, axis=-1):\n"
            "    e = np.exp(z)\n"
            "    return e / e.sum(axis=axis, keepdims=True)\n"
        ),
        "ignores_axis": (
            "def softmax(z, axis=-1):\n"
            "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
            "    return e / e.sum(axis=-1, keepdims=True)\n"
        ),
        "global_max": (
            "def softmax(z, axis=-1):\n"
            "    e = np.exp(z - np.max(z))\n"
            "    return e / e.sum(axis=axis, keepdims=True)\n"
        ),
        "sum_over_everything": (
            "def softmax(z, axis=-1):\n"
            "    e = np.exp(z - z.max(axis=axis, keepdims=True))\n"
            "    return e / e.sum()\n"
        ),
    },
    "sigmoid_grad": {
        "output_form_on_input": "def sigmoid_grad(z):\n    return z * (1 - z)\n",
        "missing_one_minus": "def sigmoid_grad(z):\n    s = 1 / (1 + np.exp(-z))\n    return s * s\n",
    },
    "tanh_grad": {
        "one_minus_tanh": "def tanh_grad(z):\n    return 1 - np.tanh(z)\n",
        "not_squared": "def tanh_grad(z):\n    return 1 - 2 * np.tanh(z)\n",
    },
    "relu_grad": {
        "sign": "def relu_grad(z):\n    return np.sign(z)\n",
        "one_at_zero": "def relu_grad(z):\n    return (z >= 0).astype(float)\n",
        "returns_relu": "def relu_grad(z):\n    return np.maximum(0, z)\n",
    },
    "perceptron_predict": {
        "no_bias": "def perceptron_predict(X, w, b):\n    return (X @ w > 0).astype(int)\n",
        "sign_labels": "def perceptron_predict(X, w, b):\n    return np.sign(X @ w + b).astype(int)\n",
        "greater_equal": "def perceptron_predict(X, w, b):\n    return (X @ w + b >= 0).astype(int)\n",
    },
    "train_perceptron": {
        "wrong_sign": (
            "def train_perceptron(X, y, lr, epochs):\n"
            "    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []\n"
            "    for _ in range(epochs):\n"
            "        count = 0\n"
            "        for x_i, y_i in zip(X, y):\n"
            "            y_hat = int(x_i @ w + b > 0)\n"
            "            if y_hat != y_i:\n"
            "                w = w - lr * (y_i - y_hat) * x_i\n"
            "                b = b - lr * (y_i - y_hat)\n"
            "                count += 1\n"
            "        mistakes.append(count)\n"
            "    return w, b, mistakes\n"
        ),
        "no_bias_update": (
            "def train_perceptron(X, y, lr, epochs):\n"
            "    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []\n"
            "    for _ in range(epochs):\n"
            "        count = 0\n"
            "        for x_i, y_i in zip(X, y):\n"
            "            y_hat = int(x_i @ w + b > 0)\n"
            "            if y_hat != y_i:\n"
            "                w = w + lr * (y_i - y_hat) * x_i\n"
            "                count += 1\n"
            "        mistakes.append(count)\n"
            "    return w, b, mistakes\n"
        ),
        "cumulative_mistakes": (
            "def train_perceptron(X, y, lr, epochs):\n"
            "    w, b, mistakes, count = np.zeros(X.shape[1]), 0.0, [], 0\n"
            "    for _ in range(epochs):\n"
            "        for x_i, y_i in zip(X, y):\n"
            "            y_hat = int(x_i @ w + b > 0)\n"
            "            if y_hat != y_i:\n"
            "                w = w + lr * (y_i - y_hat) * x_i\n"
            "                b = b + lr * (y_i - y_hat)\n"
            "                count += 1\n"
            "        mistakes.append(count)\n"
            "    return w, b, mistakes\n"
        ),
        "batch_update": (
            "def train_perceptron(X, y, lr, epochs):\n"
            "    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []\n"
            "    for _ in range(epochs):\n"
            "        error = y - (X @ w + b > 0).astype(int)\n"
            "        w = w + lr * X.T @ error\n"
            "        b = b + lr * error.sum()\n"
            "        mistakes.append(int(np.count_nonzero(error)))\n"
            "    return w, b, mistakes\n"
        ),
    },
    "mlp_forward": {
        "activation_on_output": (
            "def mlp_forward(X, params, activation):\n"
            "    H = X\n"
            "    for W, b in params:\n"
            "        H = activation(H @ W + b)\n"
            "    return H\n"
        ),
        "no_bias": (
            "def mlp_forward(X, params, activation):\n"
            "    H = X\n"
            "    for i, (W, b) in enumerate(params):\n"
            "        H = H @ W\n"
            "        if i < len(params) - 1:\n"
            "            H = activation(H)\n"
            "    return H\n"
        ),
        "activation_before_bias": (
            "def mlp_forward(X, params, activation):\n"
            "    H = X\n"
            "    for i, (W, b) in enumerate(params):\n"
            "        H = H @ W\n"
            "        if i < len(params) - 1:\n"
            "            H = activation(H)\n"
            "        H = H + b\n"
            "    return H\n"
        ),
        "only_first_layer": (
            "def mlp_forward(X, params, activation):\n"
            "    W, b = params[0]\n"
            "    return X @ W + b\n"
        ),
    },
    "mse": {
        "sum_not_mean": "def mse(y_hat, y):\n    return float(np.sum((y_hat - y) ** 2))\n",
        "rmse": "def mse(y_hat, y):\n    return float(np.sqrt(np.mean((y_hat - y) ** 2)))\n",
        "half_mse": "def mse(y_hat, y):\n    return float(0.5 * np.mean((y_hat - y) ** 2))\n",
    },
    "mae": {
        "no_abs": "def mae(y_hat, y):\n    return float(np.mean(y_hat - y))\n",
        "abs_of_mean": "def mae(y_hat, y):\n    return float(abs(np.mean(y_hat - y)))\n",
    },
    "huber": {
        "branches_swapped": (
            "def huber(y_hat, y, delta=1.0):\n"
            "    r = np.abs(y_hat - y)\n"
            "    return float(np.mean(np.where(r <= delta, delta * (r - 0.5 * delta), 0.5 * r ** 2)))\n"
        ),
        "smooth_l1_form": (
            "def huber(y_hat, y, delta=1.0):\n"
            "    r = np.abs(y_hat - y)\n"
            "    return float(np.mean(np.where(r < delta, 0.5 * r ** 2 / delta, r - 0.5 * delta)))\n"
        ),
        "linear_piece_without_offset": (
            "def huber(y_hat, y, delta=1.0):\n"
            "    r = np.abs(y_hat - y)\n"
            "    return float(np.mean(np.where(r <= delta, 0.5 * r ** 2, delta * r)))\n"
        ),
        "fixed_delta": (
            "def huber(y_hat, y, delta=1.0):\n"
            "    r = np.abs(y_hat - y)\n"
            "    return float(np.mean(np.where(r <= 1.0, 0.5 * r ** 2, r - 0.5)))\n"
        ),
    },
    "binary_cross_entropy": {
        "missing_minus": (
            "def binary_cross_entropy(p, y):\n"
            "    return float(np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))\n"
        ),
        "sum_not_mean": (
            "def binary_cross_entropy(p, y):\n"
            "    return float(-np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))\n"
        ),
        "only_positive_term": "def binary_cross_entropy(p, y):\n    return float(-np.mean(y * np.log(p)))\n",
    },
    "cross_entropy": {
        "naive_overflows": (
            "def cross_entropy(logits, y):\n"
            "    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)\n"
            "    return float(-np.mean(np.log(p[np.arange(len(y)), y])))\n"
        ),
        "sum_not_mean": (
            "def cross_entropy(logits, y):\n"
            "    m = logits.max(axis=1, keepdims=True)\n"
            "    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]\n"
            "    return float(np.sum(lse - logits[np.arange(len(y)), y]))\n"
        ),
        "forgot_to_add_max_back": (
            "def cross_entropy(logits, y):\n"
            "    m = logits.max(axis=1, keepdims=True)\n"
            "    lse = np.log(np.exp(logits - m).sum(axis=1))\n"
            "    return float(np.mean(lse - logits[np.arange(len(y)), y]))\n"
        ),
    },
    "init_params": {
        "he_with_one_over_n": (
            "def init_params(layer_sizes, method, rng):\n"
            "    params = []\n"
            "    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):\n"
            "        var = 1.0 / d_in if method == 'he' else 2.0 / (d_in + d_out)\n"
            "        params.append((rng.standard_normal((d_in, d_out)) * np.sqrt(var), np.zeros(d_out)))\n"
            "    return params\n"
        ),
        "variance_used_as_std": (
            "def init_params(layer_sizes, method, rng):\n"
            "    params = []\n"
            "    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):\n"
            "        var = 2.0 / d_in if method == 'he' else 2.0 / (d_in + d_out)\n"
            "        params.append((rng.standard_normal((d_in, d_out)) * var, np.zeros(d_out)))\n"
            "    return params\n"
        ),
        "ignores_rng": (
            "def init_params(layer_sizes, method, rng):\n"
            "    params = []\n"
            "    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):\n"
            "        var = 2.0 / d_in if method == 'he' else 2.0 / (d_in + d_out)\n"
            "        params.append((np.random.randn(d_in, d_out) * np.sqrt(var), np.zeros(d_out)))\n"
            "    return params\n"
        ),
        "fixed_seed": (
            "def init_params(layer_sizes, method, rng):\n"
            "    rng = np.random.default_rng(0)\n"
            "    params = []\n"
            "    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):\n"
            "        var = 2.0 / d_in if method == 'he' else 2.0 / (d_in + d_out)\n"
            "        params.append((rng.standard_normal((d_in, d_out)) * np.sqrt(var), np.zeros(d_out)))\n"
            "    return params\n"
        ),
        "transposed_W": (
            "def init_params(layer_sizes, method, rng):\n"
            "    params = []\n"
            "    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):\n"
            "        var = 2.0 / d_in if method == 'he' else 2.0 / (d_in + d_out)\n"
            "        params.append((rng.standard_normal((d_out, d_in)) * np.sqrt(var), np.zeros(d_out)))\n"
            "    return params\n"
        ),
        "random_bias": (
            "def init_params(layer_sizes, method, rng):\n"
            "    params = []\n"
            "    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):\n"
            "        var = 2.0 / d_in if method == 'he' else 2.0 / (d_in + d_out)\n"
            "        std = np.sqrt(var)\n"
            "        params.append((rng.standard_normal((d_in, d_out)) * std, rng.standard_normal(d_out) * std))\n"
            "    return params\n"
        ),
    },
    "train_xor": {
        "untrained": (
            "def train_xor(lr=1.0, epochs=5000, seed=0):\n"
            "    rng = np.random.default_rng(seed)\n"
            "    W1, b1 = rng.standard_normal((2, 2)), np.zeros(2)\n"
            "    W2, b2 = rng.standard_normal((2, 1)), np.zeros(1)\n"
            "    return [(W1, b1), (W2, b2)], [0.7] * epochs\n"
        ),
        "gradient_ascent": (
            "def train_xor(lr=1.0, epochs=5000, seed=0):\n"
            "    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])\n"
            "    y = np.array([[0.0], [1.0], [1.0], [0.0]])\n"
            "    rng = np.random.default_rng(seed)\n"
            "    W1, b1 = rng.standard_normal((2, 2)), np.zeros(2)\n"
            "    W2, b2 = rng.standard_normal((2, 1)), np.zeros(1)\n"
            "    losses = []\n"
            "    for _ in range(epochs):\n"
            "        H = 1 / (1 + np.exp(-(X @ W1 + b1)))\n"
            "        p = 1 / (1 + np.exp(-(H @ W2 + b2)))\n"
            "        losses.append(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))\n"
            "        dZ2 = (p - y) / 4\n"
            "        dZ1 = (dZ2 @ W2.T) * H * (1 - H)\n"
            "        W2, b2 = W2 + lr * H.T @ dZ2, b2 + lr * dZ2.sum(axis=0)\n"
            "        W1, b1 = W1 + lr * X.T @ dZ1, b1 + lr * dZ1.sum(axis=0)\n"
            "    return [(W1, b1), (W2, b2)], losses\n"
        ),
        "hidden_layer_not_updated": (
            "def train_xor(lr=1.0, epochs=5000, seed=0):\n"
            "    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])\n"
            "    y = np.array([[0.0], [1.0], [1.0], [0.0]])\n"
            "    rng = np.random.default_rng(seed)\n"
            "    W1, b1 = rng.standard_normal((2, 2)), np.zeros(2)\n"
            "    W2, b2 = rng.standard_normal((2, 1)), np.zeros(1)\n"
            "    losses = []\n"
            "    for _ in range(epochs):\n"
            "        H = 1 / (1 + np.exp(-(X @ W1 + b1)))\n"
            "        p = 1 / (1 + np.exp(-(H @ W2 + b2)))\n"
            "        losses.append(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))\n"
            "        dZ2 = (p - y) / 4\n"
            "        W2, b2 = W2 - lr * H.T @ dZ2, b2 - lr * dZ2.sum(axis=0)\n"
            "    return [(W1, b1), (W2, b2)], losses\n"
        ),
    },
    "q1_answer": {"a": 'q1_answer = "a"\n', "b": 'q1_answer = "b"\n'},
    "q2_answer": {"c": 'q2_answer = "c"\n'},
    "q3_answer": {"b": 'q3_answer = "b"\n'},
    "q4_answer": {"c": 'q4_answer = "c"\n'},
}

CORRECT = {
    "neuron": {
        "np_dot": NEURON_SIG + "    return activation(np.dot(x, w) + b)\n",
        "loops": NEURON_SIG + (
            "    if x.ndim == 1:\n"
            "        return activation(sum(x[i] * w[i] for i in range(len(w))) + b)\n"
            "    z = np.array([sum(row[i] * w[i] for i in range(len(w))) + b for row in x])\n"
            "    return activation(z)\n"
        ),
        "einsum": NEURON_SIG + "    return activation(np.einsum('...d,d->...', x, w) + b)\n",
    },
    "sigmoid": {
        "stable_two_branches": (
            "def sigmoid(z):\n"
            "    e = np.exp(-np.abs(z))\n"
            "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))\n"
        ),
        "scipy_expit": "def sigmoid(z):\n    from scipy.special import expit\n    return expit(z)\n",
        "exp_over_one_plus_exp": "def sigmoid(z):\n    return np.exp(z) / (1 + np.exp(z))\n",
    },
    "tanh": {
        "via_sigmoid": "def tanh(z):\n    return 2 / (1 + np.exp(-2 * z)) - 1\n",
        "exp_minus_2z": "def tanh(z):\n    e = np.exp(-2 * z)\n    return (1 - e) / (1 + e)\n",
        "np_tanh": "def tanh(z):\n    return np.tanh(z)\n",
    },
    "relu": {
        "where": "def relu(z):\n    return np.where(z > 0, z, 0.0)\n",
        "mask_multiply": "def relu(z):\n    return z * (z > 0)\n",
        "copy_then_clip": "def relu(z):\n    out = z.copy()\n    out[out < 0] = 0\n    return out\n",
    },
    "leaky_relu": {
        "maximum": "def leaky_relu(z, alpha=0.01):\n    return np.maximum(z, alpha * z)\n",
        "masks": "def leaky_relu(z, alpha=0.01):\n    return z * (z > 0) + alpha * z * (z <= 0)\n",
    },
    "gelu": {
        "math_erf_vectorised": (
            "def gelu(z):\n"
            "    import math\n"
            "    erf = np.vectorize(math.erf)\n"
            "    return 0.5 * z * (1 + erf(z / math.sqrt(2)))\n"
        ),
        "normal_cdf": "def gelu(z):\n    from scipy.stats import norm\n    return z * norm.cdf(z)\n",
        "erfc": "def gelu(z):\n    from scipy.special import erfc\n    return 0.5 * z * erfc(-z / np.sqrt(2))\n",
    },
    "softmax": {
        "log_sum_exp": (
            "def softmax(z, axis=-1):\n"
            "    from scipy.special import logsumexp\n"
            "    return np.exp(z - logsumexp(z, axis=axis, keepdims=True))\n"
        ),
        "apply_along_axis": (
            "def softmax(z, axis=-1):\n"
            "    def one(v):\n"
            "        e = np.exp(v - v.max())\n"
            "        return e / e.sum()\n"
            "    return np.apply_along_axis(one, axis, z)\n"
        ),
        "moveaxis_loop": (
            "def softmax(z, axis=-1):\n"
            "    moved = np.moveaxis(np.asarray(z, dtype=float), axis, -1)\n"
            "    flat = moved.reshape(-1, moved.shape[-1])\n"
            "    out = np.empty_like(flat)\n"
            "    for i, row in enumerate(flat):\n"
            "        e = np.exp(row - max(row))\n"
            "        out[i] = e / sum(e)\n"
            "    return np.moveaxis(out.reshape(moved.shape), -1, axis)\n"
        ),
    },
    "sigmoid_grad": {
        "exp_form": "def sigmoid_grad(z):\n    e = np.exp(-z)\n    return e / (1 + e) ** 2\n",
        "scipy_expit": (
            "def sigmoid_grad(z):\n"
            "    from scipy.special import expit\n"
            "    return expit(z) * expit(-z)\n"
        ),
    },
    "tanh_grad": {
        "cosh": "def tanh_grad(z):\n    return 1 / np.cosh(z) ** 2\n",
        "exp_form": "def tanh_grad(z):\n    return 4 / (np.exp(z) + np.exp(-z)) ** 2\n",
    },
    "relu_grad": {
        "heaviside": "def relu_grad(z):\n    return np.heaviside(z, 0.0)\n",
        "where": "def relu_grad(z):\n    return np.where(z > 0, 1.0, 0.0)\n",
        "boolean": "def relu_grad(z):\n    return z > 0\n",
    },
    "perceptron_predict": {
        "heaviside": "def perceptron_predict(X, w, b):\n    return np.heaviside(X @ w + b, 0).astype(int)\n",
        "loop": (
            "def perceptron_predict(X, w, b):\n"
            "    return np.array([1 if np.dot(x, w) + b > 0 else 0 for x in X])\n"
        ),
        "where": "def perceptron_predict(X, w, b):\n    return np.where(X @ w + b > 0, 1, 0)\n",
    },
    "train_perceptron": {
        "index_loop_in_place": (
            "def train_perceptron(X, y, lr, epochs):\n"
            "    n, d = X.shape\n"
            "    w = np.zeros(d)\n"
            "    b = 0.0\n"
            "    mistakes = []\n"
            "    for epoch in range(epochs):\n"
            "        wrong = 0\n"
            "        for i in range(n):\n"
            "            z = np.dot(w, X[i]) + b\n"
            "            pred = 1 if z > 0 else 0\n"
            "            update = lr * (y[i] - pred)\n"
            "            w += update * X[i]\n"
            "            b += update\n"
            "            wrong += int(update != 0)\n"
            "        mistakes.append(wrong)\n"
            "    return w, b, mistakes\n"
        ),
        "augmented_bias_column": (
            "def train_perceptron(X, y, lr, epochs):\n"
            "    Xa = np.hstack([X, np.ones((len(X), 1))])\n"
            "    theta = np.zeros(Xa.shape[1])\n"
            "    mistakes = []\n"
            "    for _ in range(epochs):\n"
            "        count = 0\n"
            "        for x_i, y_i in zip(Xa, y):\n"
            "            err = y_i - int(x_i[:-1] @ theta[:-1] + theta[-1] > 0)\n"
            "            theta = theta + lr * err * x_i\n"
            "            count += err != 0\n"
            "        mistakes.append(int(count))\n"
            "    return theta[:-1], float(theta[-1]), mistakes\n"
        ),
    },
    "mlp_forward": {
        "slice_loop": (
            "def mlp_forward(X, params, activation):\n"
            "    H = X\n"
            "    for W, b in params[:-1]:\n"
            "        H = activation(H @ W + b)\n"
            "    W, b = params[-1]\n"
            "    return H @ W + b\n"
        ),
        "recursive": (
            "def mlp_forward(X, params, activation):\n"
            "    (W, b), rest = params[0], params[1:]\n"
            "    Z = np.dot(X, W) + b\n"
            "    return Z if not rest else mlp_forward(activation(Z), rest, activation)\n"
        ),
        "matmul": (
            "def mlp_forward(X, params, activation):\n"
            "    out = X\n"
            "    L = len(params)\n"
            "    for l in range(L):\n"
            "        W, b = params[l]\n"
            "        out = np.matmul(out, W) + b[None, :]\n"
            "        if l != L - 1:\n"
            "            out = activation(out)\n"
            "    return out\n"
        ),
    },
    "mse": {
        "loop": (
            "def mse(y_hat, y):\n"
            "    d = (np.asarray(y_hat) - np.asarray(y)).ravel()\n"
            "    return sum(v * v for v in d) / len(d)\n"
        ),
        "square_and_size": "def mse(y_hat, y):\n    return np.sum(np.square(y_hat - y)) / np.size(y)\n",
    },
    "mae": {
        "loop": (
            "def mae(y_hat, y):\n"
            "    d = (np.asarray(y_hat) - np.asarray(y)).ravel()\n"
            "    return sum(abs(v) for v in d) / len(d)\n"
        ),
        "returns_numpy_scalar": "def mae(y_hat, y):\n    return np.abs(y - y_hat).mean()\n",
    },
    "huber": {
        "masks": (
            "def huber(y_hat, y, delta=1.0):\n"
            "    r = y_hat - y\n"
            "    small = np.abs(r) < delta\n"
            "    loss = small * 0.5 * r ** 2 + (~small) * delta * (np.abs(r) - 0.5 * delta)\n"
            "    return loss.mean()\n"
        ),
        "clip_form": (
            "def huber(y_hat, y, delta=1.0):\n"
            "    a = np.abs(y_hat - y)\n"
            "    q = np.minimum(a, delta)\n"
            "    return float(np.mean(0.5 * q ** 2 + delta * (a - q)))\n"
        ),
    },
    "binary_cross_entropy": {
        "clipped": (
            "def binary_cross_entropy(p, y):\n"
            "    p = np.clip(p, 1e-12, 1 - 1e-12)\n"
            "    return float(np.mean(-y * np.log(p) - (1 - y) * np.log1p(-p)))\n"
        ),
        "where_hard_labels": (
            "def binary_cross_entropy(p, y):\n"
            "    return float(np.mean(np.where(y == 1, -np.log(p), -np.log(1 - p))))\n"
        ),
    },
    "cross_entropy": {
        "scipy_logsumexp": (
            "def cross_entropy(logits, y):\n"
            "    from scipy.special import logsumexp\n"
            "    return float(np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y]))\n"
        ),
        "row_loop": (
            "def cross_entropy(logits, y):\n"
            "    total = 0.0\n"
            "    for z, c in zip(logits, y):\n"
            "        m = max(z)\n"
            "        total += m + np.log(sum(np.exp(v - m) for v in z)) - z[c]\n"
            "    return total / len(y)\n"
        ),
        "log_softmax_one_hot": (
            "def cross_entropy(logits, y):\n"
            "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
            "    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
            "    one_hot = np.eye(logits.shape[1])[y]\n"
            "    return -np.sum(one_hot * log_p) / logits.shape[0]\n"
        ),
    },
    "init_params": {
        "rng_normal": (
            "def init_params(layer_sizes, method, rng):\n"
            "    params = []\n"
            "    for i in range(len(layer_sizes) - 1):\n"
            "        fan_in, fan_out = layer_sizes[i], layer_sizes[i + 1]\n"
            "        if method == 'he':\n"
            "            scale = (2 / fan_in) ** 0.5\n"
            "        else:\n"
            "            scale = (2 / (fan_in + fan_out)) ** 0.5\n"
            "        W = rng.normal(0.0, scale, size=(fan_in, fan_out))\n"
            "        params.append([W, np.zeros(fan_out)])\n"
            "    return params\n"
        ),
        "uniform_same_variance": (
            "def init_params(layer_sizes, method, rng):\n"
            "    params = []\n"
            "    for d_in, d_out in zip(layer_sizes, layer_sizes[1:]):\n"
            "        var = {'he': 2 / d_in, 'xavier': 2 / (d_in + d_out)}[method]\n"
            "        limit = np.sqrt(3 * var)\n"
            "        params.append((rng.uniform(-limit, limit, (d_in, d_out)), np.zeros((d_out,))))\n"
            "    return params\n"
        ),
    },
    "train_xor": {
        "separate_gradient_lines": (
            "def train_xor(lr=1.0, epochs=5000, seed=0):\n"
            "    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)\n"
            "    y = np.array([0, 1, 1, 0], dtype=float).reshape(4, 1)\n"
            "    rng = np.random.default_rng(seed)\n"
            "    W1 = rng.standard_normal((2, 2))\n"
            "    b1 = np.zeros(2)\n"
            "    W2 = rng.standard_normal((2, 1))\n"
            "    b2 = np.zeros(1)\n"
            "    sig = lambda z: 1 / (1 + np.exp(-z))\n"
            "    losses = []\n"
            "    for epoch in range(epochs):\n"
            "        Z1 = X @ W1 + b1\n"
            "        H = sig(Z1)\n"
            "        Z2 = H @ W2 + b2\n"
            "        p = sig(Z2)\n"
            "        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
            "        losses.append(loss)\n"
            "        dZ2 = (p - y) / len(X)\n"
            "        dW2 = H.T @ dZ2\n"
            "        db2 = np.sum(dZ2, axis=0)\n"
            "        dH = dZ2 @ W2.T\n"
            "        dZ1 = dH * H * (1 - H)\n"
            "        dW1 = X.T @ dZ1\n"
            "        db1 = np.sum(dZ1, axis=0)\n"
            "        W1 -= lr * dW1\n"
            "        b1 -= lr * db1\n"
            "        W2 -= lr * dW2\n"
            "        b2 -= lr * db2\n"
            "    return [(W1, b1), (W2, b2)], losses\n"
        ),
    },
    "q1_answer": {"same_choice": 'q1_answer = "c"\n'},
}


# --------------------------------------------------------------------------------------------
# Issue 15: from-scratch exercises may not delegate to PyTorch or course_utils' reference helpers
# (each loses its points with a DelegationError that says so); counts are ints; BCE is exact at the
# ends of its documented range [1e-12, 1 - 1e-12].
WRONG["neuron"]["torch_matmul"] = NEURON_SIG + (
    "    import torch\n"
    "    return activation((torch.from_numpy(np.asarray(x, dtype=float)) @ torch.from_numpy(np.asarray(w, dtype=float))).numpy() + b)\n"
)
WRONG["sigmoid"]["torch_sigmoid"] = "def sigmoid(z):\n    import torch\n    return torch.sigmoid(torch.from_numpy(np.asarray(z))).numpy()\n"
WRONG["tanh"]["torch_tanh"] = "def tanh(z):\n    import torch\n    return torch.tanh(torch.as_tensor(z)).numpy()\n"
WRONG["relu"]["torch_relu"] = "def relu(z):\n    import torch\n    return torch.relu(torch.tensor(z)).numpy()\n"
WRONG["gelu"]["torch_gelu"] = (
    "def gelu(z):\n"
    "    import torch\n"
    "    return torch.nn.functional.gelu(torch.from_numpy(np.asarray(z, dtype=float))).numpy()\n"
)
WRONG["softmax"]["torch_softmax"] = (
    "def softmax(z, axis=-1):\n"
    "    import torch\n"
    "    return torch.softmax(torch.from_numpy(np.asarray(z, dtype=float)), dim=axis).numpy()\n"
)
WRONG["sigmoid_grad"]["course_utils_numeric_gradient"] = (
    "def sigmoid_grad(z):\n"
    "    from course_utils.gradcheck import numeric_gradient\n"
    "    return numeric_gradient(lambda v: np.sum(1 / (1 + np.exp(-v))), np.array(z, dtype=float))\n"
)
WRONG["relu_grad"]["autograd"] = (
    "def relu_grad(z):\n"
    "    import torch\n"
    "    t = torch.tensor(z, requires_grad=True)\n"
    "    torch.relu(t).sum().backward()\n"
    "    return t.grad.numpy()\n"
)
WRONG["mlp_forward"]["torch_layers"] = (
    "def mlp_forward(X, params, activation):\n"
    "    import torch\n"
    "    h = torch.from_numpy(X)\n"
    "    for i, (W, b) in enumerate(params):\n"
    "        h = torch.nn.functional.linear(h, torch.from_numpy(W.T), torch.from_numpy(b))\n"
    "        if i < len(params) - 1:\n"
    "            h = torch.from_numpy(np.asarray(activation(h.numpy())))\n"
    "    return h.numpy()\n"
)
WRONG["mse"]["torch_mse_loss"] = (
    "def mse(y_hat, y):\n"
    "    import torch\n"
    "    return torch.nn.functional.mse_loss(torch.from_numpy(y_hat), torch.from_numpy(y)).item()\n"
)
WRONG["cross_entropy"]["torch_cross_entropy"] = (
    "def cross_entropy(logits, y):\n"
    "    import torch\n"
    "    return torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(np.asarray(y))).item()\n"
)
WRONG["binary_cross_entropy"].update({
    "torch_bce": (
        "def binary_cross_entropy(p, y):\n"
        "    import torch\n"
        "    return torch.nn.functional.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(y)).item()\n"
    ),
    "clipped_to_1e-7": (
        "def binary_cross_entropy(p, y):\n"
        "    p = np.clip(p, 1e-7, 1 - 1e-7)\n"
        "    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))\n"
    ),
    "eps_inside_the_log": (
        "def binary_cross_entropy(p, y):\n"
        "    eps = 1e-9\n"
        "    return float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))\n"
    ),
})
WRONG["train_perceptron"]["float_counts"] = (
    "def train_perceptron(X, y, lr, epochs):\n"
    "    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []\n"
    "    for _ in range(epochs):\n"
    "        count = 0.0\n"
    "        for x_i, y_i in zip(X, y):\n"
    "            error = y_i - int(x_i @ w + b > 0)\n"
    "            w, b = w + lr * error * x_i, b + lr * error\n"
    "            count += abs(error)\n"
    "        mistakes.append(count)\n"
    "    return w, b, mistakes\n"
)
WRONG["init_params"]["torch_init"] = (
    "def init_params(layer_sizes, method, rng):\n"
    "    import torch\n"
    "    torch.manual_seed(int(rng.integers(1 << 30)))\n"
    "    params = []\n"
    "    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):\n"
    "        W = torch.empty(d_out, d_in, dtype=torch.float64)\n"
    "        if method == 'he':\n"
    "            torch.nn.init.kaiming_normal_(W, nonlinearity='relu')\n"
    "        else:\n"
    "            torch.nn.init.xavier_normal_(W)\n"
    "        params.append((W.T.numpy().copy(), np.zeros(d_out)))\n"
    "    return params\n"
)
CORRECT["binary_cross_entropy"]["log1p"] = (
    "def binary_cross_entropy(p, y):\n"
    "    return float(np.mean(-(y * np.log(p)) - (1 - y) * np.log1p(-p)))\n"
)
CORRECT["train_perceptron"]["numpy_int_counts"] = (
    "def train_perceptron(X, y, lr, epochs):\n"
    "    w, b = np.zeros(X.shape[1]), 0.0\n"
    "    mistakes = np.zeros(epochs, dtype=np.int64)\n"
    "    for e in range(epochs):\n"
    "        for x_i, y_i in zip(X, y):\n"
    "            error = y_i - int(x_i @ w + b > 0)\n"
    "            w, b = w + lr * error * x_i, b + lr * error\n"
    "            mistakes[e] += error != 0\n"
    "    return w, b, list(mistakes)\n"
)
