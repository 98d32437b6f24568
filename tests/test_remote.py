"""The boundary between the trusted grader and the student's process (autograder/remote.py and
autograder/trusted.py), in one process: the student side serves from a thread over a socketpair."""
from __future__ import annotations

import json
import socket
import struct
import threading
import time

import pytest

from autograder import remote, trusted

STUDENT = '''
import numpy as np, torch
from torch import nn
def relu(z): return np.maximum(0, z)
def numerical_gradient(f, x, h=1e-5):
    g = np.zeros_like(x)
    for i in range(x.size):
        old = x.flat[i]; x.flat[i] = old + h; fp = f(x); x.flat[i] = old - h; fm = f(x); x.flat[i] = old
        g.flat[i] = (fp - fm) / (2 * h)
    return g
def sgd(w, dw, state, lr=0.1):
    state["n"] = state.get("n", 0) + 1
    state["v"] = dw.copy()
    return w - lr * dw
def bad(): raise ValueError("nope")
def bdb_quit():
    import bdb
    raise bdb.BdbQuit()
class Net(nn.Module):
    def __init__(self): super().__init__(); self.fc = nn.Linear(3, 2)
    def forward(self, x): return self.fc(x)
def train_one_epoch(model, batches, opt, loss_fn, device):
    model.train(); tot = 0.0
    for xb, yb in batches:
        opt.zero_grad(); loss = loss_fn(model(xb), yb); loss.backward(); opt.step(); tot += loss.item()
    return tot
def freeze(m):
    for p in m.parameters(): p.requires_grad = False
    return 3
def uses_torch(x): return torch.relu(torch.from_numpy(x)).numpy()
def attention_by_library(q): return torch.nn.functional.scaled_dot_product_attention(q, q, q)
def attention_by_hand(q): return torch.softmax(q @ q.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ q
class Oracle:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
def oracle(*a): return Oracle()
class Liar(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
def liar(*a): return np.zeros(2).view(Liar)
def loop_moves(model, loader, opt, loss_fn, device):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad(); loss_fn(model(xb), yb).backward(); opt.step()
def loop_never_moves(model, loader, opt, loss_fn, device):
    for xb, yb in loader:
        opt.zero_grad(); loss_fn(model(xb), yb).backward(); opt.step()
def loop_hard_codes_cpu(model, loader, opt, loss_fn, device):
    for xb, yb in loader:
        xb, yb = xb.to("cpu"), yb.to("cpu")
        opt.zero_grad(); loss_fn(model(xb), yb).backward(); opt.step()
def loss_detached(logits, y): return torch.nn.functional.cross_entropy(logits.detach(), y)
def loss_ok(logits, y): return torch.nn.functional.cross_entropy(logits, y)
class HalfDetached(nn.Module):
    def __init__(self): super().__init__(); self.a = nn.Linear(3, 2); self.b = nn.Linear(3, 2)
    def forward(self, x): return self.a(x) + self.b(x).detach()
check_close = lambda *a, **k: None
q = "b"
'''


def serve(sock, ns):
    peer = remote.Peer(sock, trusted=False)
    peer.namespace = ns
    try:
        while True:
            header, bufs = peer.recv()
            peer.handle(header, bufs)
    except (remote.EndOfSession, remote.Closed):
        pass


def run(test: str, locked: str = "import numpy as np\nimport torch\nfrom torch import nn\n"
        "from course_utils import check_close, check_equal, check_true, from_scratch, DelegationError\nq = 'x'\n"):
    ns: dict = {}
    exec(STUDENT, ns)
    tt = trusted.TrustedTests()
    tt.replay_locked(locked)
    a, b = socket.socketpair()
    th = threading.Thread(target=serve, args=(b, ns), daemon=True)
    th.start()
    result = tt.run_test("t", [("visible", test)], remote.Peer(a, trusted=True), time.monotonic() + 60)
    th.join(10)
    return result.parts["visible"]


def test_copies_callbacks_and_copy_back():
    part = run('''
check_close("relu", relu(np.array([-1.0, 2.0])), [0, 2])
x = np.array([1.0, 2.0]); xb = x.copy()
g = numerical_gradient(lambda v: float(np.sum(v**3)), x)
check_close("ng", g, 3 * xb**2, rtol=1e-6)
check_equal("x", x, xb)
st = {}
w = sgd(np.ones(2), np.ones(2), st, lr=0.5)
assert st["n"] == 1 and np.allclose(st["v"], 1), st
assert q == "b"
''')
    assert part.error is None, part.error


def test_modules_optimisers_and_generators_go_by_value_with_state_back():
    part = run('''
m = Net()
assert isinstance(m, nn.Module)
assert m(torch.ones(4, 3)).shape == (4, 2)
sd = m.state_dict()
m.load_state_dict({k: torch.zeros_like(v) for k, v in sd.items()})
assert float(m(torch.ones(1, 3)).abs().sum()) == 0
assert m.train() is m
assert sum(isinstance(mm, nn.Linear) for mm in m.modules()) == 1
torch.manual_seed(0)
model_t = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
opt = torch.optim.SGD(model_t.parameters(), lr=0.5, momentum=0.9)
opt.seen = []
X = torch.randn(20, 3, dtype=torch.float64); y = (X[:, 0] > 0).long()
w0 = model_t[0].weight.detach().clone()
model_t.eval()
loss = train_one_epoch(model_t, [(X[:10], y[:10]), (X[10:], y[10:])], opt, nn.CrossEntropyLoss(), "cpu")
assert isinstance(loss, float)
assert not torch.equal(w0, model_t[0].weight.detach())
assert model_t.training and len(opt.state) == 4
tm = nn.Linear(2, 2)
assert freeze(tm) == 3 and not tm.weight.requires_grad
''')
    assert part.error is None, part.error


def test_student_exceptions_and_from_scratch():
    part = run('''
try:
    bad()
    raise SystemExit("no error")
except ValueError as e:
    assert str(e) == "nope" and type(e).__module__ == "autograder.remote"
with from_scratch("uses_torch"):
    try:
        uses_torch(np.ones(2))
        raise SystemExit("not refused")
    except DelegationError:
        pass
bdb_quit()
''')
    assert part.error is not None and part.error[0] == "BdbQuit"


def test_forbidding_is_repeated_in_the_student_process():
    part = run('''
import torch.nn.functional as F
q = torch.randn(1, 3, 4)
with forbidding("attention", F.scaled_dot_product_attention):
    out = attention_by_hand(q)
    try:
        attention_by_library(q)
        raise SystemExit("not refused")
    except DelegationError as e:
        assert "scaled_dot_product_attention" in str(e), e
check_close("attention", out, F.scaled_dot_product_attention(q, q, q), rtol=1e-5, atol=1e-6)
''', locked="import numpy as np\nimport torch\nfrom course_utils import check_close, forbidding, DelegationError\n")
    assert part.error is None, part.error


@pytest.mark.parametrize("answer", ["oracle", "liar"])
def test_oracles_and_lying_arrays_cannot_pass(answer):
    part = run(f'check_equal("x", {answer}(), 2)\nassert {answer}() == 2')
    assert part.error is not None


def test_rebinding_checks_in_the_student_namespace_changes_nothing():
    part = run('check_close("relu", relu(np.array([1.0])), [5.0])')
    assert part.error is not None and part.error[0] == "AssertionError"


def _reply_with(raw: bytes):
    a, b = socket.socketpair()
    peer = remote.Peer(a, trusted=True)

    def evil():
        remote.recv_frame(b, 1 << 30)
        b.sendall(raw)

    threading.Thread(target=evil, daemon=True).start()
    peer.deadline = time.monotonic() + 10
    return peer


def _frame(header: dict, bufs=()):
    head = json.dumps(header).encode()
    out = struct.pack(">II", len(head), len(bufs)) + head
    for b in bufs:
        out += struct.pack(">Q", len(b)) + b
    return out


@pytest.mark.parametrize("raw", [
    b"\x00\x00\x00\x05\x00\x00\x00\x00nope!",
    _frame({"op": "ok", "id": 1, "value": {"$": "pickle", "n": 0}}),
    _frame({"op": "ok", "id": 1, "value": {"$": "nd", "dtype": "|O", "shape": [1], "b": 0}}, [b"12345678"]),
    _frame({"op": "ok", "id": 1, "value": {"$": "nd", "dtype": "<f8", "shape": [4], "b": 0}}, [b"1234"]),
    _frame({"op": "ok", "id": 99, "value": 1}),
    _frame({"op": "getattr", "id": 1, "target": 1, "name": "__globals__"}),
    struct.pack(">II", 2 ** 31, 0),
])
def test_malformed_frames_are_protocol_errors(raw):
    peer = _reply_with(raw)
    with pytest.raises(remote.ProtocolError):
        peer.request({"op": "global", "name": "x"})


@pytest.mark.parametrize("loop, fails", [("loop_moves", False), ("loop_never_moves", True), ("loop_hard_codes_cpu", True)])
def test_device_spies_travel_and_report_back(loop, fails):
    """Module 2's check that batches go through .to(device): the spies, model and loss go to the
    student's process by value, and their counters come back to the verdict taken here."""
    part = run(f'''
from course_utils.spies import check_batches_moved
check_batches_moved("loop", lambda m, loader, loss_fn, dev: {loop}(m, loader, torch.optim.SGD(m.parameters(), lr=0.1), loss_fn, dev), 3)
''')
    assert (part.error is not None) == fails, part.error


def test_gradients_are_computed_beside_the_graph_and_compared_here():
    part = run('''
from course_utils import gradients
import torch.nn.functional as F
logits = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
y = torch.tensor([0, 2, 1, 1])
out, (g, gy), params = gradients(loss_ok, logits, y)
ref = logits.detach().clone().requires_grad_(True)
F.cross_entropy(ref, y).backward()
check_close("loss", out, F.cross_entropy(ref.detach(), y))
assert gy is None and params == {}
torch.testing.assert_close(g, ref.grad)
_, (g2, _), _ = gradients(loss_detached, logits, y)
assert g2 is None
m = HalfDetached()
_, (gx,), gp = gradients(m, torch.ones(2, 3, requires_grad=True), grad_output=torch.ones(2, 2))
assert gp["a.weight"] is not None and gp["b.weight"] is None and gx is not None
''', locked="import numpy as np\nimport torch\nfrom torch import nn\nfrom course_utils import check_close\n")
    assert part.error is None, part.error
