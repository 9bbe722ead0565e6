"""A tiny GPT learns to sort digits: given ``3 1 4 1 5 9``, continue with ``1 1 3 4 5 9``.

minGPT's sorting demo, written with the library's layers: token and position
embeddings (``nn.Embedding``), blocks of causal self-attention
(``F.scaled_dot_product_attention`` with ``is_causal=True``, several heads) and
an MLP, each behind a ``LayerNorm`` with a residual connection, then a linear
head. The model reads the digits and then the sorted digits so far, and predicts
the next sorted digit; the loss counts only the positions that predict the
sorted half. Accuracy is measured by greedy generation on held-out sequences:
per token, and for whole sequences.

    python examples/tiny_transformer.py                  # 400 steps: 98.5% token accuracy
    python examples/tiny_transformer.py --steps 60 --layers 1   # quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import tinygrad_memo as tm
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_memo as tm

from tinygrad_memo import nn, optim
from tinygrad_memo.nn import functional as F


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions <= t."""

    def __init__(self, embd: int, heads: int):
        super().__init__()
        if embd % heads:
            raise ValueError(f"CausalSelfAttention: embd ({embd}) must be divisible by heads ({heads})")
        self.heads = heads
        self.qkv = nn.Linear(embd, 3 * embd)
        self.proj = nn.Linear(embd, embd)

    def forward(self, x):
        B, T, E = x.shape
        q, k, v = self.qkv(x).split(3, axis=-1)  # each (B, T, E)

        def heads(t):  # (B, T, E) -> (B, heads, T, E / heads)
            return t.reshape(B, T, self.heads, E // self.heads).permute(0, 2, 1, 3)

        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
        return self.proj(y.permute(0, 2, 1, 3).reshape(B, T, E))


class Block(nn.Module):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x))."""

    def __init__(self, embd: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(embd)
        self.attn = CausalSelfAttention(embd, heads)
        self.ln2 = nn.LayerNorm(embd)
        self.mlp = nn.Sequential(nn.Linear(embd, 4 * embd), nn.GELU(), nn.Linear(4 * embd, embd))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    """Token and position embeddings, ``layers`` blocks, a final LayerNorm and a head."""

    def __init__(self, vocab: int, context: int, embd: int = 32, heads: int = 2, layers: int = 2):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, embd)
        self.pos = nn.Embedding(context, embd)
        self.blocks = nn.ModuleList([Block(embd, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(embd)
        self.head = nn.Linear(embd, vocab)

    def forward(self, idx: np.ndarray):
        """Logits (B, T, vocab) for integer tokens ``idx`` (B, T), T <= context."""
        T = idx.shape[1]
        if T > self.context:
            raise ValueError(f"TinyGPT: {T} tokens do not fit the context of {self.context}")
        x = self.tok(idx) + self.pos(np.arange(T))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def make_batch(rng: np.random.Generator, n: int, length: int, digits: int):
    """Inputs and targets (n, 2 length - 1): the digits, then their sorted order, shifted."""
    a = rng.integers(0, digits, size=(n, length))
    full = np.concatenate([a, np.sort(a, axis=1)], axis=1)
    return full[:, :-1], full[:, 1:]


def sort_by_generation(model, a: np.ndarray) -> np.ndarray:
    """The model's sorted version of each row of ``a``, one greedy token at a time."""
    seq = a
    with tm.no_grad():
        for _ in range(a.shape[1]):
            nxt = model(seq).numpy()[:, -1].argmax(axis=-1)
            seq = np.concatenate([seq, nxt[:, None]], axis=1)
    return seq[:, a.shape[1]:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=6, help="digits per sequence (default 6)")
    parser.add_argument("--digits", type=int, default=10, help="use the digits 0..N-1 (default 10)")
    parser.add_argument("--embd", type=int, default=32, help="embedding width (default 32)")
    parser.add_argument("--heads", type=int, default=2, help="attention heads (default 2)")
    parser.add_argument("--layers", type=int, default=2, help="transformer blocks (default 2)")
    parser.add_argument("--steps", type=int, default=400, help="training steps (default 400)")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per step (default 32)")
    parser.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate (default 3e-3)")
    parser.add_argument("--test", type=int, default=500, help="held-out sequences (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and data (default 0)")
    args = parser.parse_args(argv)
    if (min(args.length, args.embd, args.heads, args.layers, args.steps, args.batch_size,
            args.test) < 1 or args.digits < 2 or args.lr <= 0 or args.embd % args.heads):
        parser.error("need positive sizes, --digits >= 2, --lr > 0 and --embd divisible by --heads")

    L, V = args.length, args.digits
    tm.manual_seed(args.seed)
    model = TinyGPT(V, 2 * L - 1, args.embd, args.heads, args.layers)
    print(f"sorting {L} digits of 0..{V - 1}; {sum(p.size for p in model.parameters()):,} parameters "
          f"in {args.layers} blocks of {args.heads}-head causal self-attention")
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = make_batch(rng, args.batch_size, L, V)
        logits = model(x)[:, L - 1:]  # the positions that predict a sorted digit
        loss = F.cross_entropy(logits.reshape(-1, V), y[:, L - 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == args.steps:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    print(f"trained in {time.perf_counter() - t0:.1f} s")

    test = np.random.default_rng(10_000 + args.seed).integers(0, V, size=(args.test, L))
    right = sort_by_generation(model, test) == np.sort(test, axis=1)
    for row, out in zip(test[:3], sort_by_generation(model, test[:3])):
        print(f"  {' '.join(map(str, row))}  ->  {' '.join(map(str, out))}")
    print(f"sequence accuracy {100 * right.all(axis=1).mean():.2f}%")
    print(f"token accuracy {100 * right.mean():.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
