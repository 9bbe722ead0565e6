"""makemore, the MLP version: a character-level language model of names that
invents new ones.

Bengio et al.'s (2003) model as Karpathy's makemore builds it: the previous
``block`` characters, each looked up in an ``nn.Embedding``, concatenated, then
a hidden layer ``Linear -> BatchNorm1d -> tanh`` and a linear layer to the 27
logits of the next character (``a``-``z`` and ``.``, which starts and ends a
name), trained with cross-entropy. New names are drawn one character at a time
with ``tm.multinomial`` from the softmax of the logits, the BatchNorm in eval
mode (its running statistics).

The names are made up by a small random grammar of syllables this file carries
(``make_names``), so nothing is downloaded: a model that knew the grammar
exactly would reach its entropy, and one that knew nothing would score
``ln 27 = 3.30`` nats per character. The loss on the held-out names says how
close the model got.

    python examples/makemore.py                       # 4000 steps: train and validation loss
    python examples/makemore.py --steps 200 --names 500   # quick
"""

from __future__ import annotations

import argparse
import math
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

CHARS = "." + "abcdefghijklmnopqrstuvwxyz"  # "." (index 0) starts and ends a name
STOI = {c: i for i, c in enumerate(CHARS)}

# the grammar of the names: an onset, a vowel, maybe a coda, once or twice; then an ending
_ONSETS = ("b br c ch d dr f g gr h j k kr l m n p r s sh st t th tr v w z "
           "b d k l m n r s t").split()
_VOWELS = "a e i o u a e i o a ai ea ie ou y".split()
_CODAS = ["", "", "", "", "n", "r", "l", "s", "m", "nd", "st", "th"]
_ENDINGS = ["a", "a", "ia", "o", "on", "en", "an", "el", "elle", "ie", "y", "us", "yn", "ah",
            "ette", "ix", "is", "", ""]


def make_names(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct made-up names from the grammar above, in a seeded random order.

    >>> names = make_names(5)
    >>> len(names), all(name.isalpha() and name.islower() for name in names)
    (5, True)
    """
    rng = np.random.default_rng(seed)
    pick = lambda options: options[rng.integers(len(options))]  # noqa: E731
    names: dict[str, None] = {}
    while len(names) < n:
        syllables = 1 + int(rng.random() < 0.6) + int(rng.random() < 0.15)
        name = "".join(pick(_ONSETS) + pick(_VOWELS) + pick(_CODAS) for _ in range(syllables))
        name += pick(_ENDINGS)
        if 3 <= len(name) <= 12:
            names.setdefault(name, None)
    return list(names)


def dataset(names, block: int):
    """(contexts, next characters): every position of every name, ``.``-padded."""
    X, Y = [], []
    for name in names:
        context = [0] * block
        for ch in name + ".":
            X.append(context)
            Y.append(STOI[ch])
            context = context[1:] + [STOI[ch]]
    return np.array(X, dtype=np.int64), np.array(Y, dtype=np.int64)


class CharMLP(nn.Module):
    """Embedding of ``block`` characters -> Linear -> BatchNorm1d -> tanh -> Linear
    (PyTorch's layers and names: ``wte.weight``, ``fc.weight``, ``bn.running_mean``, ...)."""

    def __init__(self, block: int = 3, embd: int = 10, hidden: int = 200, vocab: int = len(CHARS)):
        super().__init__()
        self.wte = nn.Embedding(vocab, embd)
        self.fc = nn.Linear(block * embd, hidden, bias=False)  # the BatchNorm has the bias
        self.bn = nn.BatchNorm1d(hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, idx):
        """Logits (N, vocab) for contexts ``idx`` (N, block) of character indices."""
        e = self.wte(idx)  # (N, block, embd)
        h = self.bn(self.fc(e.reshape(e.shape[0], -1))).tanh()
        return self.out(h)


def bigram_loss(train_names, names) -> float:
    """Validation loss of makemore's first model, bigram counts (plus one) from ``train_names``."""
    counts = np.ones((len(CHARS), len(CHARS)))
    for a, b in _pairs(train_names):
        counts[a, b] += 1
    logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    return -float(np.mean([logp[a, b] for a, b in _pairs(names)]))


def _pairs(names):
    for name in names:
        ix = [0] + [STOI[c] for c in name] + [0]
        yield from zip(ix, ix[1:])


def split_loss(model, X, Y) -> float:
    """Mean cross-entropy over all of (X, Y), in eval mode, without a graph."""
    model.eval()
    with tm.no_grad():
        loss = F.cross_entropy(model(X), Y).item()
    model.train()
    return loss


def sample(model, n: int, block: int, max_len: int = 20) -> list[str]:
    """``n`` names drawn from the model, a character at a time, with ``tm.multinomial``."""
    model.eval()
    out = []
    with tm.no_grad():
        for _ in range(n):
            context, chars = [0] * block, []
            while len(chars) < max_len:
                probs = F.softmax(model(np.array([context])), axis=-1)
                ix = int(tm.multinomial(probs[0], num_samples=1).item())
                if ix == 0:
                    break
                chars.append(CHARS[ix])
                context = context[1:] + [ix]
            out.append("".join(chars))
    model.train()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--names", type=int, default=4000, help="names in the data set (default 4000)")
    parser.add_argument("--block", type=int, default=3, help="context length (default 3)")
    parser.add_argument("--embd", type=int, default=10, help="embedding width (default 10)")
    parser.add_argument("--hidden", type=int, default=200, help="hidden units (default 200)")
    parser.add_argument("--steps", type=int, default=4000, help="training steps (default 4000)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 1e-2, "
                        "a tenth for the last quarter of the steps)")
    parser.add_argument("--samples", type=int, default=10, help="names to sample (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of names, weights, batches")
    args = parser.parse_args(argv)
    if min(args.names, args.block, args.embd, args.hidden, args.steps) < 1 or args.names < 10 \
            or args.batch_size < 2 or args.lr <= 0 or args.samples < 0:
        parser.error("need --names >= 10, positive sizes, --batch-size >= 2 and --lr > 0")

    names = make_names(args.names, seed=args.seed)
    n_train = int(0.9 * len(names))
    Xtr, Ytr = dataset(names[:n_train], args.block)
    Xva, Yva = dataset(names[n_train:], args.block)
    print(f"{len(names)} names ({', '.join(names[:5])}, ...): {len(Xtr)} training and "
          f"{len(Xva)} validation characters; uniform loss ln 27 = {math.log(27):.4f}")

    tm.manual_seed(args.seed)
    model = CharMLP(args.block, args.embd, args.hidden)
    print(model)
    print(f"{sum(p.size for p in model.parameters()):,} parameters")
    opt = optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        ix = rng.integers(0, len(Xtr), size=args.batch_size)
        loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix])
        opt.zero_grad()
        loss.backward()
        opt.lr = args.lr if step <= 0.75 * args.steps else args.lr / 10
        opt.step()
        if step % max(1, args.steps // 10) == 0 or step == args.steps:
            print(f"step {step:5d}  minibatch loss {loss.item():.4f}")
    print(f"trained in {time.perf_counter() - t0:.1f} s")
    print(f"train loss {split_loss(model, Xtr, Ytr):.4f}")
    print(f"validation loss {split_loss(model, Xva, Yva):.4f}  (bigram counts: "
          f"{bigram_loss(names[:n_train], names[n_train:]):.4f})")
    if args.samples:
        tm.manual_seed(args.seed)
        drawn = sample(model, args.samples, args.block)
        seen = set(names)
        print("sampled names (* = not in the data set):")
        print("  " + " ".join(f"{s}{'' if s in seen else '*'}" for s in drawn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
