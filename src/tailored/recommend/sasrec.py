"""A self-attentive next-item model (SASRec, Kang & McAuley 2018) in torch on the CPU,
trained with full cross-entropy over the whole catalogue at each of the latest positions ("SASRec+",
Klenitskiy & Vasilev, RecSys 2023) instead of sampled negatives: on a catalogue of ten
thousand items the full softmax is cheap, and it ranks far better.

Item embeddings are tied to the output layer. A user is scored from the last ``max_len``
items of their history; the number of epochs is chosen on a validation item when the
caller gives one (``fit(..., valid=...)``), else ``epochs`` are run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import BaseRecommender
from .data import Interactions


def _torch() -> Any:
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    return torch


def _network(n_items: int, dim: int, max_len: int, blocks: int, heads: int, dropout: float) -> Any:
    torch = _torch()
    nn = torch.nn

    class SASRec(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)  # 0 pads; item i is i + 1
            self.positions = nn.Embedding(max_len, dim)
            layer = nn.TransformerEncoderLayer(
                dim, heads, dim_feedforward=dim * 2, dropout=dropout, batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.drop = nn.Dropout(dropout)
            self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1))

        def forward(self, seq: Any) -> Any:
            length = seq.shape[1]
            pos = torch.arange(length, device=seq.device)
            x = self.items(seq) * math.sqrt(dim) + self.positions(pos)
            x = self.drop(x) * (seq > 0).unsqueeze(-1)
            h = self.encoder(x, mask=self.causal[:length, :length])
            return self.norm(h)

        def logits(self, h: Any) -> Any:
            return h @ self.items.weight[1:].T

    return SASRec()


class SASRec(BaseRecommender):
    name = "sasrec"

    def __init__(
        self,
        dim: int = 64,
        max_len: int = 100,
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        epochs: int = 60,
        batch_size: int = 32,
        lr: float = 1e-3,
        seed: int = 0,
        loss_positions: int = 25,
    ) -> None:
        self.dim, self.max_len, self.blocks, self.heads, self.dropout = dim, max_len, blocks, heads, dropout
        self.epochs, self.batch_size, self.lr, self.seed = epochs, batch_size, lr, seed
        self.loss_positions = loss_positions
        self.progress: Callable[[int, int], None] | None = None

    def params(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "max_len": self.max_len,
            "blocks": self.blocks,
            "heads": self.heads,
            "dropout": self.dropout,
            "epochs": self.epochs,
            "loss_positions": self.loss_positions,
        }

    def _build(self, n_items: int) -> Any:
        return _network(n_items, self.dim, self.max_len, self.blocks, self.heads, self.dropout)

    def _padded(self, seqs: list[np.ndarray], length: int) -> np.ndarray:
        out = np.zeros((len(seqs), length), dtype=np.int64)
        for row, s in enumerate(seqs):
            tail = s[-length:] + 1
            if len(tail):
                out[row, -len(tail) :] = tail
        return out

    def _fit(self, data: Interactions) -> None:
        torch = _torch()
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.net = self._build(data.n_items)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        seqs = [s for s in data.sequences() if len(s) >= 2]
        # as in SASRec, each user's most recent max_len + 1 items: inputs and their next items
        windows = [s[-(self.max_len + 1) :] for s in seqs]
        batch = self._padded(windows, self.max_len + 1)
        inputs, targets = torch.from_numpy(batch[:, :-1]), torch.from_numpy(batch[:, 1:] - 1)
        for epoch in range(self.epochs):
            self.net.train()
            order = rng.permutation(len(windows))
            for start in range(0, len(order), self.batch_size):
                idx = torch.from_numpy(order[start : start + self.batch_size])
                x, y = inputs[idx], targets[idx]
                h = self.net(x)
                keep = y >= 0
                keep[:, : -self.loss_positions] = False  # the loss on the latest positions only
                loss = torch.nn.functional.cross_entropy(self.net.logits(h[keep]), y[keep])
                opt.zero_grad()
                loss.backward()
                opt.step()
            if self.progress is not None:
                self.progress(epoch + 1, self.epochs)
        self.net.eval()

    def score_users(self, users: np.ndarray) -> np.ndarray:
        torch = _torch()
        data = self._data()
        if getattr(self, "_seqs_of", None) is not data:
            self._seqs, self._seqs_of = data.sequences(), data
        seqs = self._seqs
        out = []
        with torch.no_grad():
            for start in range(0, len(users), 256):
                block = [seqs[u] for u in users[start : start + 256]]
                x = torch.from_numpy(self._padded(block, self.max_len))
                h = self.net(x)[:, -1, :]
                out.append(self.net.logits(h).numpy())
        return np.concatenate(out) if out else np.zeros((0, self._data().n_items), dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy() for k, v in self.net.state_dict().items()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        torch = _torch()
        self.net = self._build(self._data().n_items)
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        self.net.eval()
