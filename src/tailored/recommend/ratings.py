"""Biased matrix factorization for rating prediction (Koren, Bell & Volinsky 2009):
``rating = mean + user bias + item bias + p_u . q_i``, fitted on the explicit ratings
with full-batch Adam in torch (eighty thousand ratings fit in one batch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInput, NotFound
from .base import BaseRecommender
from .data import Interactions
from .sasrec import _torch


class BiasedMF(BaseRecommender):
    name = "mf"

    def __init__(self, factors: int = 32, l2: float = 0.05, epochs: int = 300, lr: float = 0.02) -> None:
        self.factors, self.l2, self.epochs, self.lr = factors, l2, epochs, lr

    def params(self) -> dict[str, Any]:
        return {"factors": self.factors, "l2": self.l2, "epochs": self.epochs}

    def _fit(self, data: Interactions) -> None:
        torch = _torch()
        torch.manual_seed(0)
        rated = ~np.isnan(data.ratings)
        if not rated.any():
            raise InvalidInput("the interactions carry no ratings: the rating model needs some")
        u = torch.from_numpy(data.user_idx[rated].astype(np.int64))
        i = torch.from_numpy(data.item_idx[rated].astype(np.int64))
        r = torch.from_numpy(data.ratings[rated])
        self.mean = float(r.mean())
        p = torch.nn.Parameter(0.01 * torch.randn(data.n_users, self.factors))
        q = torch.nn.Parameter(0.01 * torch.randn(data.n_items, self.factors))
        bu = torch.nn.Parameter(torch.zeros(data.n_users))
        bi = torch.nn.Parameter(torch.zeros(data.n_items))
        opt = torch.optim.Adam([p, q, bu, bi], lr=self.lr)
        for _ in range(self.epochs):
            pred = self.mean + bu[u] + bi[i] + (p[u] * q[i]).sum(1)
            reg = (p[u] ** 2).sum(1) + (q[i] ** 2).sum(1) + bu[u] ** 2 + bi[i] ** 2
            loss = ((pred - r) ** 2).mean() + self.l2 * reg.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.p, self.q = p.detach().numpy(), q.detach().numpy()
        self.bu, self.bi = bu.detach().numpy(), bi.detach().numpy()
        lo, hi = float(np.nanmin(data.ratings)), float(np.nanmax(data.ratings))
        self.bounds = np.array([lo, hi], dtype=np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.mean + self.bu[users, None] + self.bi[None, :] + self.p[users] @ self.q.T
        return out

    def predict_rating(self, user: str, item: str) -> float:
        data = self._data()
        i = data.item_index(item)
        if i is None:
            raise NotFound(f"item {item!r} is not in the catalogue the model was fitted on")
        u = data.user_index(user)
        value = self.mean + float(self.bi[i]) if u is None else float(self.score_users(np.array([u]))[0, i])
        return float(np.clip(value, self.bounds[0], self.bounds[1]))

    def predict_many(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Ratings for (user, item) index pairs; user -1 (unknown) gets the item's bias."""
        known = users >= 0
        out = self.mean + self.bi[items]
        uu = np.where(known, users, 0)
        out = out + known * (self.bu[uu] + (self.p[uu] * self.q[items]).sum(1))
        clipped: np.ndarray = np.clip(out, self.bounds[0], self.bounds[1])
        return clipped

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "p": self.p,
            "q": self.q,
            "bu": self.bu,
            "bi": self.bi,
            "mean": np.array([self.mean]),
            "bounds": self.bounds,
        }

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.p, self.q, self.bu, self.bi = state["p"], state["q"], state["bu"], state["bi"]
        self.mean, self.bounds = float(state["mean"][0]), state["bounds"]
