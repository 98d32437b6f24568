"""Wrong and differently-written answers for Module 3 (convolutional networks).

Each value is the full source of an answer cell. WRONG ones must fail their own test cell and no
other; CORRECT ones must pass everything.
"""

_HDR_NAIVE = '''def conv2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> tuple[np.ndarray, tuple]:
'''
_HDR_IM2COL = '''def conv2d_im2col(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> tuple[np.ndarray, tuple]:
'''
_HDR_BACK = '''def conv2d_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
'''

_NAIVE_LOOPS = '''
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PADSPEC)))
    H_out = (xp.shape[2] - kh) // stride + 1
    W_out = (xp.shape[3] - kw) // stride + 1
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * KERNEL) + b[f]
    return out, (x, w, b, stride, pad)
'''


def _naive(padspec: str = "(pad, pad), (pad, pad)", kernel: str = "w[f]") -> str:
    return _HDR_NAIVE + _NAIVE_LOOPS.replace("PADSPEC", padspec).replace("KERNEL", kernel)


_IM2COL_BODY = '''
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PADSPEC)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out, W_out = windows.shape[2], windows.shape[3]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, C * kh * kw)
    out = cols @ KERNEL.reshape(F_, -1).T + b
    return out.reshape(N, H_out, W_out, F_).transpose(0, 3, 1, 2), (x, w, b, stride, pad)
'''


def _im2col(padspec: str = "(pad, pad), (pad, pad)", kernel: str = "w") -> str:
    return _HDR_IM2COL + _IM2COL_BODY.replace("PADSPEC", padspec).replace("KERNEL", kernel)


_BACK_LOOPS = _HDR_BACK + '''
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    _, _, H_out, W_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = DB
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                for f in range(F_):
                    dw[f] += dout[n, f, i, j] * window
                    dxp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] ACC dout[n, f, i, j] * w[f]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, db
'''

_POOL_FWD_HDR = '''def maxpool2d_forward(x: np.ndarray, pool: int = 2, stride: int = 2) -> tuple[np.ndarray, tuple]:
'''
_POOL_BACK_HDR = '''def maxpool2d_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
'''
_POOL_BACK_LOOPS = _POOL_BACK_HDR + '''
    x, pool, stride = cache
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + pool, j * stride:j * stride + pool]
                    ROUTE
    return dx
'''


def _pool_back(route: str) -> str:
    return _POOL_BACK_LOOPS.replace("ROUTE", route)


_CNN = '''class DigitsCNN(nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = CLASSIFIER

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return FORWARD
'''


def _cnn(classifier: str = "nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, n_classes))",
         forward: str = "self.classifier(self.features(x))") -> str:
    return _CNN.replace("CLASSIFIER", classifier).replace("FORWARD", forward)


_RES = '''class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        SHORTCUT

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        FORWARD
'''
_PROJ = '''if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        else:
            self.shortcut = nn.Identity()'''
_RES_FWD = "return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))"


def _res(shortcut: str = _PROJ, forward: str = _RES_FWD) -> str:
    return _RES.replace("SHORTCUT", shortcut).replace("FORWARD", forward)


_FREEZE_HDR = '''def freeze_features(model: nn.Module) -> int:
'''
_AUG_HDR = '''def augment(images: torch.Tensor, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
'''
_RF_HDR = '''def receptive_field(layers: list[tuple[int, int]]) -> int:
'''

WRONG = {
    "conv_output_size": {
        "no_floor": '''def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    return (n + 2 * p - k) / s + 1
''',
        "no_plus_one": '''def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    return (n + 2 * p - k) // s
''',
        "padding_once": '''def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    return (n + p - k) // s + 1
''',
        "float_from_np_floor": '''def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    return np.floor((n + 2 * p - k) / s) + 1
''',
    },
    "conv_param_count": {
        "forgets_bias": '''def conv_param_count(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_out * c_in * k * k
''',
        "one_bias_for_all": '''def conv_param_count(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_out * c_in * k * k + (1 if bias else 0)
''',
        "float_count": '''def conv_param_count(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_out * (c_in * k ** 2 + (1.0 if bias else 0.0))
''',
    },
    "conv2d_naive": {
        "flipped_kernel": _naive(kernel="w[f, :, ::-1, ::-1]"),
        "pad_one_side": _naive(padspec="(pad, 0), (pad, 0)"),
        "no_bias": _naive().replace(" + b[f]", ""),
        "ignores_stride": _naive().replace("i * stride:i * stride + kh", "i:i + kh").replace("j * stride:j * stride + kw", "j:j + kw"),
        "delegates_to_torch": _HDR_NAIVE + '''
    out = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=stride, padding=pad)
    return out.numpy(), (x, w, b, stride, pad)
''',
        "cache_holds_padded_x": _naive().replace("return out, (x, w, b, stride, pad)", "return out, (xp, w, b, stride, pad)"),
        "cache_stride_pad_swapped": _naive().replace("return out, (x, w, b, stride, pad)", "return out, (x, w, b, pad, stride)"),
    },
    "conv2d_im2col": {
        "flipped_kernel": _im2col(kernel="w[:, :, ::-1, ::-1]"),
        "pad_one_side": _im2col(padspec="(0, pad), (0, pad)"),
        "wrong_column_order": _im2col(kernel="w.transpose(0, 2, 3, 1)"),
        "is_conv2d_naive": _naive().replace("def conv2d_naive(", "def conv2d_im2col("),
        "delegates_to_torch": _HDR_IM2COL + '''
    out = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=stride, padding=pad)
    return out.numpy(), (x, w, b, stride, pad)
''',
        "cache_holds_window_matrix": _im2col().replace("return out.reshape(N, H_out, W_out, F_).transpose(0, 3, 1, 2), (x, w, b, stride, pad)",
                                                       "return out.reshape(N, H_out, W_out, F_).transpose(0, 3, 1, 2), (cols, w, b, stride, pad)"),
        "returns_rows_unreshaped": _HDR_IM2COL + '''
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out, W_out = windows.shape[2], windows.shape[3]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, C * kh * kw)
    out = cols @ w.reshape(F_, -1).T + b
    return out.reshape(N, F_, H_out, W_out), (x, w, b, stride, pad)
''',
    },
    "conv2d_backward": {
        "db_zeros": _BACK_LOOPS.replace("DB", "np.zeros_like(b)").replace("ACC", "+="),
        "db_none": _BACK_LOOPS.replace("DB", "None").replace("ACC", "+="),
        "dx_overwrites_overlaps": _BACK_LOOPS.replace("DB", "dout.sum(axis=(0, 2, 3))").replace("ACC", "=").replace(
            "for f in range(F_):\n                    dw[f] += dout[n, f, i, j] * window\n"
            "                    dxp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = dout[n, f, i, j] * w[f]",
            "for f in range(F_):\n                    dw[f] += dout[n, f, i, j] * window\n"
            "                dxp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = np.tensordot(dout[n, :, i, j], w, axes=1)"),
        "autograd": _HDR_BACK + '''
    x, w, b, stride, pad = cache
    xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    F.conv2d(xt, wt, bt, stride=stride, padding=pad).backward(torch.from_numpy(dout))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()
''',
        "dx_keeps_padding": _BACK_LOOPS.replace("DB", "dout.sum(axis=(0, 2, 3))").replace("ACC", "+=").replace(
            "return dxp[:, :, pad:pad + H, pad:pad + W], dw, db", "return dxp[:, :, :H, :W], dw, db"),
    },
    "maxpool2d_forward": {
        "average_instead": _POOL_FWD_HDR + '''
    windows = np.lib.stride_tricks.sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.mean(axis=(4, 5)), (x, pool, stride)
''',
        "running_max_from_zero": _POOL_FWD_HDR + '''
    N, C, H, W = x.shape
    H_out, W_out = (H - pool) // stride + 1, (W - pool) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            for u in range(pool):
                for v in range(pool):
                    out[:, :, i, j] = np.maximum(out[:, :, i, j], x[:, :, i * stride + u, j * stride + v])
    return out, (x, pool, stride)
''',
        "delegates_to_torch": _POOL_FWD_HDR + '''
    return F.max_pool2d(torch.from_numpy(x), pool, stride).numpy(), (x, pool, stride)
''',
        "cache_holds_output": _POOL_FWD_HDR + '''
    windows = np.lib.stride_tricks.sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride]
    out = windows.max(axis=(4, 5))
    return out, (out, pool, stride)
''',
    },
    "maxpool2d_backward": {
        "autograd": _POOL_BACK_HDR + '''
    x, pool, stride = cache
    xt = torch.from_numpy(x).requires_grad_(True)
    F.max_pool2d(xt, pool, stride).backward(torch.from_numpy(dout))
    return xt.grad.numpy()
''',
        "gradient_to_whole_window": _pool_back(
            "dx[n, c, i * stride:i * stride + pool, j * stride:j * stride + pool] += dout[n, c, i, j]"),
        "average_gradient": _pool_back(
            "dx[n, c, i * stride:i * stride + pool, j * stride:j * stride + pool] += dout[n, c, i, j] / pool ** 2"),
        "overwrites_overlaps": _pool_back(
            "u, v = np.unravel_index(np.argmax(window), window.shape)\n"
            "                    dx[n, c, i * stride + u, j * stride + v] = dout[n, c, i, j]"),
    },
    "receptive_field": {
        "ignores_strides": _RF_HDR + '''
    return 1 + sum(k - 1 for k, s in layers)
''',
        "multiplies_kernels": _RF_HDR + '''
    r = 1
    for k, s in layers:
        r = r * s + (k - 1)
    return r
''',
    },
    "DigitsCNN": {
        "wrong_flatten_size": _cnn(classifier="nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, n_classes))"),
        "fixed_ten_classes": _cnn(classifier="nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 10))"),
        "forward_skips_features": _cnn(classifier="nn.Sequential(nn.Flatten(), nn.Linear(64, n_classes))",
                                       forward="self.classifier(x)"),
        "returns_probabilities": _cnn(forward="torch.softmax(self.classifier(self.features(x)), dim=1)"),
    },
    "ResidualBlock": {
        "no_projection": _res(shortcut="self.shortcut = nn.Identity()"),
        "always_projection": _res(shortcut="self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))"),
        "no_skip_connection": _res(forward="return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))"),
        "no_inner_relu": _res(forward="return F.relu(self.bn2(self.conv2(self.bn1(self.conv1(x)))) + self.shortcut(x))"),
        "relu_on_each_branch": _res(forward="return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))) + F.relu(self.shortcut(x))"),
        "no_final_relu": _res(forward="return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x)"),
    },
    "freeze_features": {
        "freezes_everything": _FREEZE_HDR + '''
    for p in model.parameters():
        p.requires_grad = False
    return 0
''',
        "freezes_nothing": _FREEZE_HDR + '''
    for p in model.parameters():
        p.requires_grad = True
    return sum(p.numel() for p in model.parameters())
''',
        "only_features_attribute": _FREEZE_HDR + '''
    for p in model.features.parameters():
        p.requires_grad = False
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
''',
    },
    "augment": {
        "no_shift": _AUG_HDR + '''
    return images.clone()
''',
        "wraps_around": _AUG_HDR + '''
    N = images.shape[0]
    shifts = torch.randint(-max_shift, max_shift + 1, (N, 2), generator=generator)
    return torch.stack([torch.roll(images[n], (int(dy), int(dx)), dims=(1, 2)) for n, (dy, dx) in enumerate(shifts)])
''',
        "one_shift_for_batch": _AUG_HDR + '''
    N, C, H, W = images.shape
    m = max_shift
    oy, ox = torch.randint(0, 2 * m + 1, (2,), generator=generator).tolist()
    return F.pad(images, (m, m, m, m))[:, :, oy:oy + H, ox:ox + W]
''',
        "same_shift_both_axes": _AUG_HDR + '''
    N, C, H, W = images.shape
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    offsets = torch.randint(0, 2 * m + 1, (N,), generator=generator).tolist()
    return torch.stack([padded[n, :, o:o + H, o:o + W] for n, o in enumerate(offsets)])
''',
        "global_rng": _AUG_HDR + '''
    N, C, H, W = images.shape
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    offsets = torch.randint(0, 2 * m + 1, (N, 2))
    return torch.stack([padded[n, :, oy:oy + H, ox:ox + W] for n, (oy, ox) in enumerate(offsets.tolist())])
''',
    },
    "q1_answer": {"standard_count": 'q1_answer = "a"\n', "depthwise_only": 'q1_answer = "d"\n'},
    "q2_answer": {"shifts": 'q2_answer = "a"\n', "left_blank": 'q2_answer = None  # "a", "b", "c" or "d"\n'},
}

CORRECT = {
    "conv_output_size": {
        "math_floor": '''import math
def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    return int(math.floor((n + 2 * p - k) / s)) + 1
''',
        "count_positions": '''def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    return len(range(0, n + 2 * p - k + 1, s))
''',
    },
    "conv_param_count": {
        "separate_terms": '''def conv_param_count(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    weights = c_in * c_out * k ** 2
    return weights + c_out if bias else weights
''',
    },
    "conv2d_naive": {
        "loops_over_positions_only": _HDR_NAIVE + '''
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    H_out = 1 + (H + 2 * pad - kh) // stride
    W_out = 1 + (W + 2 * pad - kw) // stride
    out = np.empty((N, F_, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, w) + b
    return out, (x, w, b, stride, pad)
''',
        "manual_padding": _HDR_NAIVE + '''
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    xp[:, :, pad:pad + H, pad:pad + W] = x
    H_out = (H + 2 * pad - kh) // stride + 1
    W_out = (W + 2 * pad - kw) // stride + 1
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    total = b[f]
                    for c in range(C):
                        for u in range(kh):
                            for v in range(kw):
                                total += w[f, c, u, v] * xp[n, c, i * stride + u, j * stride + v]
                    out[n, f, i, j] = total
    return out, (x, w, b, stride, pad)
''',
    },
    "conv2d_im2col": {
        "as_strided": _HDR_IM2COL + '''
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.ascontiguousarray(np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))))
    H_out = (H + 2 * pad - kh) // stride + 1
    W_out = (W + 2 * pad - kw) // stride + 1
    sn, sc, sh, sw = xp.strides
    cols = np.lib.stride_tricks.as_strided(xp, shape=(N, H_out, W_out, C, kh, kw),
                                           strides=(sn, sh * stride, sw * stride, sc, sh, sw))
    out = np.tensordot(cols, w, axes=([3, 4, 5], [1, 2, 3])) + b
    return out.transpose(0, 3, 1, 2), (x, w, b, stride, pad)
''',
        "im2col_with_offset_loops": _HDR_IM2COL + '''
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out = (H + 2 * pad - kh) // stride + 1
    W_out = (W + 2 * pad - kw) // stride + 1
    cols = np.empty((C, kh, kw, N, H_out, W_out))
    for u in range(kh):
        for v in range(kw):
            cols[:, u, v] = xp[:, :, u:u + stride * H_out:stride, v:v + stride * W_out:stride].transpose(1, 0, 2, 3)
    out = w.reshape(F_, -1) @ cols.reshape(C * kh * kw, -1) + b[:, None]
    return out.reshape(F_, N, H_out, W_out).transpose(1, 0, 2, 3), (x, w, b, stride, pad)
''',
        "einsum_on_windows": _HDR_IM2COL + '''
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("ncijuv,fcuv->nfij", windows, w, optimize=True) + b[None, :, None, None]
    return out, (x, w, b, stride, pad)
''',
    },
    "conv2d_backward": {
        "loops": _BACK_LOOPS.replace("DB", "dout.sum(axis=(0, 2, 3))").replace("ACC", "+="),
        "einsum_per_offset": _HDR_BACK + '''
    x, w, b, stride, pad = cache
    H, W = x.shape[2:]
    kh, kw = w.shape[2:]
    Ho, Wo = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for u in range(kh):
        for v in range(kw):
            sl = (slice(None), slice(None), slice(u, u + stride * Ho, stride), slice(v, v + stride * Wo, stride))
            dw[:, :, u, v] = np.einsum("nfij,ncij->fc", dout, xp[sl])
            dxp[sl] += np.einsum("nfij,fc->ncij", dout, w[:, :, u, v])
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, np.einsum("nfij->f", dout)
''',
    },
    "maxpool2d_forward": {
        "loops": _POOL_FWD_HDR + '''
    N, C, H, W = x.shape
    H_out, W_out = (H - pool) // stride + 1, (W - pool) // stride + 1
    out = np.empty((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + pool, j * stride:j * stride + pool].max(axis=(2, 3))
    return out, (x, pool, stride)
''',
    },
    "maxpool2d_backward": {
        "loops_argmax": _pool_back(
            "u, v = np.unravel_index(np.argmax(window), window.shape)\n"
            "                    dx[n, c, i * stride + u, j * stride + v] += dout[n, c, i, j]"),
        "mask": _pool_back(
            "mask = window == window.max()\n"
            "                    dx[n, c, i * stride:i * stride + pool, j * stride:j * stride + pool] += mask * dout[n, c, i, j]"),
    },
    "receptive_field": {
        "backwards": _RF_HDR + '''
    r = 1
    for k, s in reversed(layers):
        r = (r - 1) * s + k
    return r
''',
    },
    "DigitsCNN": {
        "other_architecture": _cnn(classifier="nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, n_classes))"),
        "global_average_pool": _cnn(classifier="nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, n_classes))"),
    },
    "ResidualBlock": {
        "sequential_branch": '''class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)
''',
    },
    "freeze_features": {
        "by_name": _FREEZE_HDR + '''
    n = 0
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("classifier."))
        n += p.numel() if p.requires_grad else 0
    return n
''',
    },
    "augment": {
        "index_arithmetic": _AUG_HDR + '''
    N, C, H, W = images.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (N, 2), generator=generator)
    out = torch.zeros_like(images)
    for n in range(N):
        dy, dx = int(shifts[n, 0]), int(shifts[n, 1])
        ys, yd = slice(max(-dy, 0), H - max(dy, 0)), slice(max(dy, 0), H - max(-dy, 0))
        xs, xd = slice(max(-dx, 0), W - max(dx, 0)), slice(max(dx, 0), W - max(-dx, 0))
        out[n, :, yd, xd] = images[n, :, ys, xs]
    return out
''',
        "roll_and_mask": _AUG_HDR + '''
    N, C, H, W = images.shape
    out = torch.empty_like(images)
    rows, cols = torch.arange(H), torch.arange(W)
    for n in range(N):
        dy = int(torch.randint(-max_shift, max_shift + 1, (1,), generator=generator))
        dx = int(torch.randint(-max_shift, max_shift + 1, (1,), generator=generator))
        rolled = torch.roll(images[n], (dy, dx), dims=(1, 2))
        keep = ((rows - dy >= 0) & (rows - dy < H))[:, None] & ((cols - dx >= 0) & (cols - dx < W))[None, :]
        out[n] = rolled * keep
    return out
''',
    },
}
