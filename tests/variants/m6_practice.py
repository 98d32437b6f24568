"""Wrong and differently-written answers for Module 6 (generalisation, generative models, practice).

Each value is the full source of an answer cell. WRONG ones must fail their own test cell and no
other; CORRECT ones must pass everything. FAILS lists the slow test cells (trainings) that a wrong
answer also fails in a real grade; the fast variant run skips those cells.
"""

_AE_HEAD = '''class Autoencoder(nn.Module):
    def __init__(self, n_in: int = 64, n_hidden: int = 32, n_latent: int = 8):
        super().__init__()
'''
_AE_TAIL = '''
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
'''

_VAE_HDR = '''def vae_loss(x_logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    recon = RECON
    kl = KL
    return recon + kl, recon, kl
'''
_RECON = 'F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").sum(dim=1).mean()'
_KL = "0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1).mean()"


def _vae(recon: str = _RECON, kl: str = _KL) -> str:
    return _VAE_HDR.replace("RECON", recon).replace("KL", kl)


_Q_HDR = '''def quantize(x: torch.Tensor, n_bits: int) -> tuple[torch.Tensor, float]:
'''
_PRUNE_HDR = '''def magnitude_prune(model: nn.Module, amount: float) -> dict[str, torch.Tensor]:
'''
_DISTILL_HDR = '''def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, T: float, alpha: float) -> torch.Tensor:
'''
_SAL_HDR = '''def saliency_map(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
'''
_EXPORT_HDR = '''def export_model(model: nn.Module, example: torch.Tensor, path: str) -> None:
'''

WRONG = {
    # l1_penalty and l2_penalty come first: the end-to-end test takes the first two WRONG entries
    # without FAILS as the "partly wrong" submission, so those must lose only their own test.
    "l1_penalty": {
        "no_abs": '''def l1_penalty(params):
    return sum(p.sum() for p in params)
''',
        "mean_not_sum": '''def l1_penalty(params):
    return sum(p.abs().mean() for p in params)
''',
        "python_float": '''def l1_penalty(params):
    return float(sum(p.abs().sum() for p in params))
''',
    },
    "l2_penalty": {
        "without_the_half": '''def l2_penalty(params):
    return sum((p ** 2).sum() for p in params)
''',
        "without_the_square": '''def l2_penalty(params):
    return 0.5 * sum(p.abs().sum() for p in params)
''',
        "half_the_norm": '''def l2_penalty(params):
    return 0.5 * torch.sqrt(sum((p ** 2).sum() for p in params))
''',
    },
    "q1": {"dropout": 'q1_answer = "a"\n', "more_data": 'q1_answer = "b"\n'},
    "q2": {"same": 'q2_answer = "a"\n'},
    "smooth_labels": {
        "eps_over_n_minus_1": '''def smooth_labels(y: torch.Tensor, n_classes: int, eps: float) -> torch.Tensor:
    targets = torch.full((len(y), n_classes), eps / (n_classes - 1))
    targets[torch.arange(len(y)), y] = 1 - eps
    return targets
''',
        "not_rescaled": '''def smooth_labels(y: torch.Tensor, n_classes: int, eps: float) -> torch.Tensor:
    return F.one_hot(y, n_classes).float() + eps / n_classes
''',
    },
    "Autoencoder": {
        "no_sigmoid": _AE_HEAD + '''        self.encoder = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_latent))
        self.decoder = nn.Sequential(nn.Linear(n_latent, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_in))
''' + _AE_TAIL,
        "latent_size_ignored": _AE_HEAD + '''        self.encoder = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 8))
        self.decoder = nn.Sequential(nn.Linear(8, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_in), nn.Sigmoid())
''' + _AE_TAIL,
        "one_layer_each_way": _AE_HEAD + '''        self.encoder = nn.Sequential(nn.Linear(n_in, n_latent), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(n_latent, n_in), nn.Sigmoid())
''' + _AE_TAIL,
    },
    "anomaly_scores": {
        "one_number_for_the_batch": '''def anomaly_scores(model, x):
    with torch.no_grad():
        return ((model(x) - x) ** 2).mean()
''',
        "summed_over_pixels": '''def anomaly_scores(model, x):
    with torch.no_grad():
        return ((model(x) - x) ** 2).sum(dim=1)
''',
        "absolute_error": '''def anomaly_scores(model, x):
    with torch.no_grad():
        return (model(x) - x).abs().mean(dim=1)
''',
    },
    "reparameterize": {
        "variance_not_std": '''def reparameterize(mu, logvar, eps):
    return mu + torch.exp(logvar) * eps
''',
        "logvar_as_std": '''def reparameterize(mu, logvar, eps):
    return mu + logvar * eps
''',
    },
    "vae_loss": {
        "kl_sign_flipped": _vae(kl="-0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1).mean()"),
        "kl_summed_over_batch": _vae(kl="0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()"),
        "kl_log_term_sign": _vae(kl="0.5 * (mu.pow(2) + logvar.exp() - 1 + logvar).sum(dim=1).mean()"),
        "recon_mean_over_pixels": _vae(recon='F.binary_cross_entropy_with_logits(x_logits, x)'),
    },
    "gan_losses": {
        "saturating_generator": '''def gan_losses(d_real, d_fake):
    d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    g_loss = -F.softplus(d_fake).mean()  # minimises log(1 - sigmoid(d_fake))
    return d_loss, g_loss
''',
        "log_of_sigmoid": '''def gan_losses(d_real, d_fake):
    d_loss = -torch.log(torch.sigmoid(d_real)).mean() - torch.log(1 - torch.sigmoid(d_fake)).mean()
    g_loss = -torch.log(torch.sigmoid(d_fake)).mean()
    return d_loss, g_loss
''',
        "discriminator_real_term_only": '''def gan_losses(d_real, d_fake):
    return F.softplus(-d_real).mean(), F.softplus(-d_fake).mean()
''',
    },
    "quantize": {
        "asymmetric_clipping": _Q_HDR + '''    scale = x.abs().max().item() / 2 ** (n_bits - 1)
    scale = scale if scale > 0 else 1.0
    q = torch.round(x / scale).clamp(-2 ** (n_bits - 1), 2 ** (n_bits - 1) - 1).to(torch.int32)
    return q, scale
''',
        "floor_not_round": _Q_HDR + '''    q_max = 2 ** (n_bits - 1) - 1
    m = x.abs().max().item()
    scale = m / q_max if m > 0 else 1.0
    return torch.floor(x / scale).clamp(-q_max, q_max).to(torch.int32), scale
''',
        "float_codes": _Q_HDR + '''    q_max = 2 ** (n_bits - 1) - 1
    m = x.abs().max().item()
    scale = m / q_max if m > 0 else 1.0
    return torch.round(x / scale), scale
''',
        "zeros_divide_by_zero": _Q_HDR + '''    q_max = 2 ** (n_bits - 1) - 1
    scale = x.abs().max().item() / q_max
    return torch.round(x / scale).clamp(-q_max, q_max).to(torch.int32), scale
''',
    },
    "dequantize": {
        "divides": '''def dequantize(q, scale):
    return q.float() / scale
''',
        "forgets_the_scale": '''def dequantize(q, scale):
    return q.float()
''',
    },
    "magnitude_prune": {
        "per_layer": _PRUNE_HDR + '''    masks = {}
    for name, p in model.named_parameters():
        if name.endswith("weight") and p.dim() >= 2:
            k = round(amount * p.numel())
            mask = torch.ones(p.numel())
            if k:
                mask[torch.topk(p.detach().abs().flatten(), k, largest=False).indices] = 0
            masks[name] = mask.reshape(p.shape)
    return masks
''',
        "prunes_the_largest": _PRUNE_HDR + '''    weights = {n: p.detach() for n, p in model.named_parameters() if n.endswith("weight") and p.dim() >= 2}
    scores = torch.cat([w.abs().flatten() for w in weights.values()])
    k = round(amount * scores.numel())
    keep = torch.ones_like(scores)
    if k:
        keep[torch.topk(scores, k, largest=True).indices] = 0
    out, start = {}, 0
    for n, w in weights.items():
        out[n] = keep[start:start + w.numel()].reshape(w.shape)
        start += w.numel()
    return out
''',
        "biases_too": _PRUNE_HDR + '''    params = {n: p.detach() for n, p in model.named_parameters()}
    scores = torch.cat([w.abs().flatten() for w in params.values()])
    k = round(amount * scores.numel())
    keep = torch.ones_like(scores)
    if k:
        keep[torch.topk(scores, k, largest=False).indices] = 0
    out, start = {}, 0
    for n, w in params.items():
        out[n] = keep[start:start + w.numel()].reshape(w.shape)
        start += w.numel()
    return out
''',
    },
    "distillation_loss": {
        "without_T_squared": _DISTILL_HDR + '''    kl = F.kl_div(F.log_softmax(student_logits / T, dim=1), F.softmax(teacher_logits / T, dim=1), reduction="batchmean")
    return alpha * kl + (1 - alpha) * F.cross_entropy(student_logits, y)
''',
        "kl_the_other_way": _DISTILL_HDR + '''    kl = F.kl_div(F.log_softmax(teacher_logits / T, dim=1), F.softmax(student_logits / T, dim=1), reduction="batchmean")
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(student_logits, y)
''',
        "kl_summed_over_batch": _DISTILL_HDR + '''    kl = F.kl_div(F.log_softmax(student_logits / T, dim=1), F.softmax(teacher_logits / T, dim=1), reduction="sum")
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(student_logits, y)
''',
        "alpha_on_the_labels": _DISTILL_HDR + '''    kl = F.kl_div(F.log_softmax(student_logits / T, dim=1), F.softmax(teacher_logits / T, dim=1), reduction="batchmean")
    return (1 - alpha) * T * T * kl + alpha * F.cross_entropy(student_logits, y)
''',
    },
    "saliency_map": {
        "gradient_of_the_loss": _SAL_HDR + '''    (grad,) = torch.autograd.grad(F.cross_entropy(logits, target), x)
    return grad.abs()
''',
        "no_absolute_value": _SAL_HDR + '''    (grad,) = torch.autograd.grad(logits.gather(1, target.view(-1, 1)).sum(), x)
    return grad
''',
        "gradient_of_the_probability": _SAL_HDR + '''    (grad,) = torch.autograd.grad(F.softmax(logits, dim=1).gather(1, target.view(-1, 1)).sum(), x)
    return grad.abs()
''',
    },
    "average_gradients": {
        "summed_not_averaged": '''def average_gradients(grads_per_worker):
    return [torch.stack(g).sum(dim=0) for g in zip(*grads_per_worker)]
''',
        "divided_by_parameter_count": '''def average_gradients(grads_per_worker):
    return [torch.stack(g).sum(dim=0) / len(grads_per_worker[0]) for g in zip(*grads_per_worker)]
''',
    },
    "export_model": {
        "static_batch_size": _EXPORT_HDR + '''    torch.export.save(torch.export.export(model, (example,)), path)
''',
        "state_dict_only": _EXPORT_HDR + '''    torch.save(model.state_dict(), path)
''',
    },
}

FAILS = {
    "Autoencoder": ["test_Autoencoder", "test_denoising", "test_anomaly_auc"],
    "anomaly_scores": ["test_anomaly_scores", "test_anomaly_auc"],
    "gan_losses": ["test_gan_losses", "test_gan_quality"],
    "average_gradients": ["test_average_gradients", "test_data_parallel"],
}

CORRECT = {
    "l1_penalty": {
        "concatenated_norm": '''def l1_penalty(params):
    return torch.linalg.vector_norm(torch.cat([p.reshape(-1) for p in params]), ord=1)
''',
        "loop": '''def l1_penalty(params):
    total = torch.zeros(())
    for p in params:
        total = total + torch.abs(p).sum()
    return total
''',
    },
    "l2_penalty": {
        "squared_norm": '''def l2_penalty(params):
    return torch.cat([p.flatten() for p in params]).norm() ** 2 / 2
''',
        "loop": '''def l2_penalty(params):
    total = 0
    for p in params:
        total = total + (p * p).sum() / 2
    return total
''',
    },
    "smooth_labels": {
        "scatter": '''def smooth_labels(y: torch.Tensor, n_classes: int, eps: float) -> torch.Tensor:
    targets = torch.full((len(y), n_classes), eps / n_classes)
    targets[torch.arange(len(y)), y] += 1 - eps
    return targets
''',
        "loops": '''def smooth_labels(y: torch.Tensor, n_classes: int, eps: float) -> torch.Tensor:
    rows = [[(1 - eps) * (k == int(label)) + eps / n_classes for k in range(n_classes)] for label in y]
    return torch.tensor(rows, dtype=torch.get_default_dtype()).reshape(len(y), n_classes)
''',
    },
    "Autoencoder": {
        "layers_as_attributes": '''class Autoencoder(nn.Module):
    def __init__(self, n_in: int = 64, n_hidden: int = 32, n_latent: int = 8):
        super().__init__()
        self.enc1, self.enc2 = nn.Linear(n_in, n_hidden), nn.Linear(n_hidden, n_latent)
        self.dec1, self.dec2 = nn.Linear(n_latent, n_hidden), nn.Linear(n_hidden, n_in)

    def encode(self, x):
        return self.enc2(F.relu(self.enc1(x)))

    def decode(self, z):
        return torch.sigmoid(self.dec2(torch.relu(self.dec1(z))))

    def forward(self, x):
        return self.decode(self.encode(x))
''',
    },
    "anomaly_scores": {
        "mse_loss_none": '''def anomaly_scores(model, x):
    return F.mse_loss(model(x), x, reduction="none").mean(dim=1).detach()
''',
        "loop": '''def anomaly_scores(model, x):
    out = []
    with torch.no_grad():
        for row in x:
            out.append(((model(row[None])[0] - row) ** 2).sum() / row.numel())
    return torch.stack(out)
''',
    },
    "reparameterize": {
        "sqrt_of_exp": '''def reparameterize(mu, logvar, eps):
    return mu + eps * torch.sqrt(torch.exp(logvar))
''',
        "exp_method": '''def reparameterize(mu, logvar, eps):
    std = (logvar / 2).exp()
    return torch.addcmul(mu, std, eps)
''',
    },
    "vae_loss": {
        "softplus_and_distributions": '''def vae_loss(x_logits, x, mu, logvar):
    n = x.shape[0]
    recon = (F.softplus(x_logits) - x * x_logits).sum() / n
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum() / n
    return recon + kl, recon, kl
''',
    },
    "gan_losses": {
        "bce_with_logits": '''def gan_losses(d_real, d_fake):
    bce = F.binary_cross_entropy_with_logits
    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    return d_loss, bce(d_fake, torch.ones_like(d_fake))
''',
        "logsigmoid": '''def gan_losses(d_real, d_fake):
    d_loss = -F.logsigmoid(d_real).mean() - F.logsigmoid(-d_fake).mean()
    g_loss = -F.logsigmoid(d_fake).mean()
    return d_loss, g_loss
''',
    },
    "quantize": {
        "round_half_away_from_zero": _Q_HDR + '''    q_max = 2 ** (n_bits - 1) - 1
    m = float(torch.max(torch.abs(x)))
    if m == 0:
        return torch.zeros(x.shape, dtype=torch.int64), 1.0
    scale = m / q_max
    v = x / scale
    q = torch.sign(v) * torch.floor(v.abs() + 0.5)
    return torch.clamp(q, -q_max, q_max).long(), scale
''',
    },
    "dequantize": {
        "mul": '''def dequantize(q, scale):
    return q.float().mul(scale)
''',
    },
    "magnitude_prune": {
        "kthvalue_threshold": _PRUNE_HDR + '''    weights = [(n, p.detach()) for n, p in model.named_parameters() if n.endswith("weight") and p.ndim > 1]
    scores = torch.cat([w.abs().reshape(-1) for _, w in weights])
    k = int(round(amount * scores.numel()))
    if k == 0:
        return {n: torch.ones_like(w) for n, w in weights}
    threshold = torch.kthvalue(scores, k).values
    return {n: (w.abs() > threshold).float() for n, w in weights}
''',
    },
    "distillation_loss": {
        "kl_div": _DISTILL_HDR + '''    soft = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.log_softmax(teacher_logits / T, dim=-1),
                    reduction="batchmean", log_target=True)
    return alpha * T ** 2 * soft + (1 - alpha) * F.cross_entropy(student_logits, y)
''',
    },
    "saliency_map": {
        "one_example_at_a_time": '''def saliency_map(model, x, target):
    rows = []
    for i in range(x.shape[0]):
        xi = x[i:i + 1].detach().clone().requires_grad_(True)
        model(xi)[0, int(target[i])].backward()
        rows.append(xi.grad[0].abs())
    return torch.stack(rows)
''',
    },
    "average_gradients": {
        "loops": '''def average_gradients(grads_per_worker):
    out = []
    for i in range(len(grads_per_worker[0])):
        total = grads_per_worker[0][i].clone()
        for worker in grads_per_worker[1:]:
            total += worker[i]
        out.append(total / len(grads_per_worker))
    return out
''',
        "mean_of_stack": '''def average_gradients(grads_per_worker):
    return [torch.mean(torch.stack(list(g)), dim=0) for g in zip(*grads_per_worker)]
''',
    },
    "export_model": {
        "named_dynamic_dimension": _EXPORT_HDR + '''    batch = torch.export.Dim("n", max=1_000_000)
    program = torch.export.export(model.eval(), args=(example,), dynamic_shapes={"input": {0: batch}})
    torch.export.save(program, path)
''',
    },
}
