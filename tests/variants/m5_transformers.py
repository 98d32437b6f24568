"""Wrong and differently-written answers for Module 5 (attention and transformers).

Each value is the full source of an answer cell. WRONG ones must fail their own test cell (and the
cells listed in FAILS) and no other; CORRECT ones must pass everything.
"""

_SDPA_HDR = '''def scaled_dot_product_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
'''
_SDPA = _SDPA_HDR + '''    scores = Q @ K.transpose(-2, -1) / SCALE
    if mask is not None:
        scores = scores.masked_fill(MASKED, float("-inf"))
    weights = torch.softmax(scores, dim=AXIS)
    weights = torch.nan_to_num(weights, nan=0.0)
    return weights @ V, weights
'''


def _sdpa(scale: str = "math.sqrt(Q.shape[-1])", masked: str = "~mask", axis: str = "-1") -> str:
    return _SDPA.replace("SCALE", scale).replace("MASKED", masked).replace("AXIS", axis)


_MHA = '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        B, T_q, d_model = query.shape

        def heads(x):
            return SPLIT

        q, k, v = heads(self.q_proj(query)), heads(self.k_proj(key)), heads(self.v_proj(value))
        out, weights = scaled_dot_product_attention(q, k, v, None if mask is None else mask.unsqueeze(-3))
        out = MERGE
        return RETURN
'''


def _mha(split: str = "x.view(B, x.shape[1], self.n_heads, self.d_head).transpose(1, 2)",
         merge: str = "out.transpose(1, 2).reshape(B, T_q, d_model)",
         ret: str = "self.out_proj(out), weights.mean(dim=1)") -> str:
    return _MHA.replace("SPLIT", split).replace("MERGE", merge).replace("RETURN", ret)


_PE_HDR = '''def sinusoidal_positional_encoding(T: int, d: int) -> torch.Tensor:
'''
_PE = _PE_HDR + '''    position = torch.arange(T, dtype=DTYPE)[:, None]
    two_i = torch.arange(0, d, 2, dtype=DTYPE)
    angle = position / 10000.0 ** (two_i / d)
    pe = torch.zeros(T, d, dtype=DTYPE)
    pe[:, 0::2] = EVEN
    pe[:, 1::2] = ODD
    return pe
'''


def _pe(even: str = "torch.sin(angle)", odd: str = "torch.cos(angle[:, : d // 2])", dtype: str = "torch.float64") -> str:
    return _PE.replace("EVEN", even).replace("ODD", odd).replace("DTYPE", dtype)


_BLOCK = '''class TransformerBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
BODY'''

_PRE_NORM = '''        h = self.norm1(x)
        x = x + self.dropout1(self.self_attn(h, h, h, attn_mask=None if mask is None else MASK, need_weights=False)[0])
        return RESIDUALself.dropout2(self.linear2(self.dropout(ACT(self.linear1(NORM2(x))))))
'''


def _block(body: str | None = None, mask: str = "~mask", act: str = "F.gelu", norm2: str = "self.norm2", residual: str = "x + ") -> str:
    if body is None:
        body = _PRE_NORM.replace("MASK", mask).replace("ACT", act).replace("NORM2", norm2).replace("RESIDUAL", residual)
    return _BLOCK.replace("BODY", body)


_GPT = '''class TinyGPT(nn.Module):
    def __init__(self, vocab_size: int, d_model: int, n_heads: int, n_layers: int, context: int, dropout: float = 0.0):
        super().__init__()
        self.context = context
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList([TransformerBlock(d_model, n_heads, 4 * d_model, dropout) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = EMBED
        mask = causal_mask(T)
        for block in self.blocks:
            x = BLOCK_CALL
        return HEAD

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, seed=None):
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        for _ in range(max_new_tokens):
            logits = self(CROP)[:, POS]
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                nxt = torch.multinomial(torch.softmax(TEMPERED, dim=-1), 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        return idx
'''


def _gpt(embed: str = "self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))", block_call: str = "block(x, mask)",
         head: str = "self.head(self.ln_f(x))", crop: str = "idx[:, -self.context:]", pos: str = "-1",
         tempered: str = "logits / temperature") -> str:
    return (_GPT.replace("EMBED", embed).replace("BLOCK_CALL", block_call).replace("HEAD", head).replace("CROP", crop)
            .replace("POS", pos).replace("TEMPERED", tempered))


_PATCH_HDR = '''def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
'''


def _patch(permute: str) -> str:
    return _PATCH_HDR + f'''    N, C, H, W = images.shape
    p = patch_size
    x = images.reshape(N, C, H // p, p, W // p, p).permute({permute})
    return x.reshape(N, (H // p) * (W // p), C * p * p)
'''


WRONG = {
    "q1_answer": {"unscaled": 'q1_answer = "c"\n', "the_other_key": 'q1_answer = "d"\n'},
    "q2_answer": {"sqrt": 'q2_answer = "b"\n'},
    "q3_answer": {"linear": 'q3_answer = "a"\n'},
    "scaled_dot_product_attention": {
        "divides_by_d_k": _sdpa(scale="Q.shape[-1]"),
        "no_scaling": _sdpa(scale="1.0"),
        "softmax_over_queries": _sdpa(axis="-2"),
        "mask_convention_inverted": _sdpa(masked="mask"),
        "mask_after_softmax": _SDPA_HDR + '''    weights = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1]), dim=-1)
    if mask is not None:
        weights = weights * mask
    return weights @ V, weights
''',
        "nan_on_fully_masked_row": _SDPA_HDR + '''    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ V, weights
''',
        "delegates_to_pytorch": _SDPA_HDR + '''    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
    return F.scaled_dot_product_attention(Q, K, V, attn_mask=mask), weights
''',
    },
    "causal_mask": {
        "future_instead_of_past": '''def causal_mask(T: int) -> torch.Tensor:
    return torch.ones(T, T, dtype=torch.bool).triu()
''',
        "without_the_diagonal": '''def causal_mask(T: int) -> torch.Tensor:
    return torch.ones(T, T, dtype=torch.bool).tril(-1)
''',
        "float_zeros_and_ones": '''def causal_mask(T: int) -> torch.Tensor:
    return torch.ones(T, T).tril()
''',
    },
    "padding_mask": {
        "off_by_one": '''def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T)[None, :] <= lengths[:, None]
''',
        "pytorch_key_padding_convention": '''def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T)[None, :] >= lengths[:, None]
''',
        "float": '''def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return (torch.arange(T)[None, :] < lengths[:, None]).float()
''',
    },
    "MultiHeadAttention": {
        "heads_split_in_wrong_memory_order": _mha(split="x.reshape(B, self.n_heads, x.shape[1], self.d_head)"),
        "heads_merged_without_transpose": _mha(merge="out.reshape(B, T_q, d_model)"),
        "weights_not_averaged": _mha(ret="self.out_proj(out), weights"),
        "no_output_projection": _mha(ret="out, weights.mean(dim=1)"),
        "weights_of_first_head": _mha(ret="self.out_proj(out), weights[:, 0]"),
    },
    "sinusoidal_positional_encoding": {
        "sin_and_cos_swapped": _pe(even="torch.cos(angle)", odd="torch.sin(angle[:, : d // 2])"),
        "column_index_not_pair_index": _PE_HDR + '''    pe = torch.zeros(T, d, dtype=torch.float64)
    for t in range(T):
        for j in range(d):
            angle = t / 10000.0 ** (j / d)
            pe[t, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe
''',
        "fails_for_odd_d": _pe(odd="torch.cos(angle)"),
        "float32": _pe(dtype="torch.float32"),
    },
    "TransformerBlock": {
        "post_norm": _block(body='''        x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, attn_mask=None if mask is None else ~mask, need_weights=False)[0]))
        return self.norm2(x + self.dropout2(self.linear2(self.dropout(F.gelu(self.linear1(x))))))
'''),
        "relu_instead_of_gelu": _block(act="F.relu"),
        "mask_not_inverted": _block(mask="mask"),
        "one_layer_norm_for_both": _block(norm2="self.norm1"),
        "no_residual_around_ffn": _block(residual=""),
    },
    "TinyGPT": {
        "no_causal_mask": _gpt(block_call="block(x)"),
        "no_positions": _gpt(embed="self.tok_emb(idx)"),
        "no_final_layer_norm": _gpt(head="self.head(x)"),
        "generate_does_not_crop": _gpt(crop="idx"),
        "generate_reads_first_position": _gpt(pos="0"),
        "temperature_multiplies": _gpt(tempered="logits * temperature"),
        "seed_ignored": _gpt().replace("generator = None if seed is None else torch.Generator().manual_seed(seed)", "generator = None"),
    },
    "patchify": {
        "patches_column_first": _patch("0, 4, 2, 1, 3, 5"),
        "channel_last_inside_patch": _patch("0, 2, 4, 3, 5, 1"),
        "plain_reshape": _PATCH_HDR + '''    N, C, H, W = images.shape
    return images.reshape(N, (H // patch_size) * (W // patch_size), C * patch_size * patch_size)
''',
        "delegates_to_unfold": _PATCH_HDR + '''    return F.unfold(images, patch_size, stride=patch_size).transpose(1, 2)
''',
    },
}

FAILS = {
    # MultiHeadAttention calls the student's attention, as the exercise asks
    "scaled_dot_product_attention": ["test_scaled_dot_product_attention", "test_MultiHeadAttention"],
    # TinyGPT is built from the student's mask and blocks, as the exercise asks, and the language
    # model trained in the notebook (the slow test_lm_loss, run by real grading) is a TinyGPT
    "causal_mask": ["test_causal_mask", "test_TinyGPT", "test_lm_loss"],
    "TransformerBlock": ["test_TransformerBlock", "test_TinyGPT", "test_lm_loss"],
}

CORRECT = {
    "q1_answer": {"with_spaces": 'q1_answer = "b"  # e^2 / (e^2 + 1)\n'},
    "scaled_dot_product_attention": {
        "einsum_and_explicit_softmax": _SDPA_HDR + '''    scores = torch.einsum("...id,...jd->...ij", Q, K) * Q.shape[-1] ** -0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    top = scores.amax(dim=-1, keepdim=True)
    top = torch.where(torch.isinf(top), torch.zeros_like(top), top)
    e = torch.exp(scores - top)
    total = e.sum(dim=-1, keepdim=True)
    weights = torch.where(total > 0, e / total.clamp_min(1e-300), torch.zeros_like(e))
    return torch.einsum("...ij,...jd->...id", weights, V), weights
''',
        "additive_float_mask": _SDPA_HDR + '''    d_k = Q.shape[-1]
    scores = torch.matmul(Q, K.transpose(-1, -2)) / d_k ** 0.5
    if mask is not None:
        scores = scores + torch.zeros_like(scores).masked_fill(mask.logical_not(), float("-inf"))
    weights = scores.softmax(-1)
    weights = torch.where(torch.isnan(weights), torch.zeros_like(weights), weights)
    return torch.matmul(weights, V), weights
''',
    },
    "causal_mask": {
        "comparison_of_indices": '''def causal_mask(T: int) -> torch.Tensor:
    i = torch.arange(T)
    return i[None, :] <= i[:, None]
''',
        "loops": '''def causal_mask(T: int) -> torch.Tensor:
    m = torch.zeros(T, T, dtype=torch.bool)
    for i in range(T):
        for j in range(i + 1):
            m[i, j] = True
    return m
''',
    },
    "padding_mask": {
        "loops": '''def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    m = torch.zeros(len(lengths), T, dtype=torch.bool)
    for b, n in enumerate(lengths.tolist()):
        m[b, :n] = True
    return m
''',
    },
    "MultiHeadAttention": {
        "loop_over_heads": '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.h = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        dh = q.shape[-1] // self.h
        outs, ws = [], []
        for i in range(self.h):
            s = slice(i * dh, (i + 1) * dh)
            o, w = scaled_dot_product_attention(q[..., s], k[..., s], v[..., s], mask)
            outs.append(o)
            ws.append(w)
        return self.out_proj(torch.cat(outs, dim=-1)), sum(ws) / self.h
''',
        "einops_style_permute": _mha(split="x.reshape(B, -1, self.n_heads, self.d_head).permute(0, 2, 1, 3)",
                                     merge="out.permute(0, 2, 1, 3).flatten(2)"),
    },
    "sinusoidal_positional_encoding": {
        "loops_with_math": _PE_HDR + '''    pe = torch.empty(T, d, dtype=torch.float64)
    for t in range(T):
        for j in range(d):
            angle = t / 10000 ** (2 * (j // 2) / d)
            pe[t, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe
''',
        "interleave_then_cut": _PE_HDR + '''    half = (d + 1) // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float64) * (-2 * math.log(10000.0) / d))
    angle = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]
    return torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(T, 2 * half)[:, :d]
''',
    },
    "TransformerBlock": {
        "float_additive_mask_and_gelu_module": _block(body='''        attn_mask = None
        if mask is not None:
            attn_mask = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(~mask, float("-inf"))
        h = self.norm1(x)
        a, _ = self.self_attn(h, h, h, attn_mask=attn_mask, need_weights=False)
        x = x + self.dropout1(a)
        h = self.linear2(self.dropout(nn.GELU()(self.linear1(self.norm2(x)))))
        return x + self.dropout2(h)
'''),
    },
    "TinyGPT": {
        "preallocated_generate_and_inline_mask": '''class TinyGPT(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, context, dropout=0.0):
        super().__init__()
        self.context = context
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, 4 * d_model, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, idx):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device).unsqueeze(0).expand(B, T)
        x = self.pos_emb(pos) + self.tok_emb(idx)
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=idx.device))
        for blk in self.blocks:
            x = blk(x, mask=mask)
        return self.head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, seed=None):
        gen = torch.Generator(device=idx.device)
        if seed is not None:
            gen.manual_seed(seed)
        B, T0 = idx.shape
        out = torch.empty(B, T0 + max_new_tokens, dtype=idx.dtype, device=idx.device)
        out[:, :T0] = idx
        for t in range(T0, T0 + max_new_tokens):
            logits = self(out[:, max(0, t - self.context):t])[:, -1, :]
            if temperature == 0:
                out[:, t] = logits.argmax(-1)
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                out[:, t] = torch.multinomial(probs, num_samples=1, generator=gen if seed is not None else None)[:, 0]
        return out
''',
    },
    "patchify": {
        "tensor_unfold": _PATCH_HDR + '''    N, C, H, W = images.shape
    p = patch_size
    x = images.unfold(2, p, p).unfold(3, p, p)  # (N, C, H/p, W/p, p, p)
    return x.permute(0, 2, 3, 1, 4, 5).reshape(N, -1, C * p * p)
''',
        "loops": _PATCH_HDR + '''    N, C, H, W = images.shape
    p = patch_size
    rows = []
    for r in range(H // p):
        for c in range(W // p):
            rows.append(images[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(N, -1))
    return torch.stack(rows, dim=1)
''',
    },
}

# Right outputs, wrong gradients: the attention branch is cut out of the autograd graph, so its
# weights never learn (caught by the gradient comparison with PyTorch's layer).
WRONG["TransformerBlock"]["attention_branch_detached"] = _block(body=_PRE_NORM.replace("MASK", "~mask").replace("ACT", "F.gelu")
    .replace("NORM2", "self.norm2").replace("RESIDUAL", "x + ").replace("need_weights=False)[0]", "need_weights=False)[0].detach()"))
