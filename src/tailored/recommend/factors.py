"""Matrix factorization from ``implicit``: ALS (Hu, Koren & Volinsky 2008) and BPR
(Rendle et al. 2009), on the CPU. Both score a user by ``user_factors @ item_factors.T``;
the factors are what gets saved, so a reload needs no ``implicit`` at all."""

from __future__ import annotations

from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import InvalidInput
from .base import BaseRecommender
from .data import Interactions


def _implicit() -> Any:
    try:
        import implicit.cpu.als
        import implicit.cpu.bpr
    except ImportError as exc:
        raise InvalidInput("ALS and BPR need the recommend extra: pip install 'tailored[recommend]'") from exc
    return implicit.cpu


class _Factors(BaseRecommender):
    factors: int = 64

    def score_users(self, users: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.user_factors[users] @ self.item_factors.T
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = state["user_factors"], state["item_factors"]

    def _train(self, model: Any) -> None:
        model.fit(self._seen, show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)


class ALS(_Factors):
    name = "als"

    def __init__(
        self, factors: int = 64, regularization: float = 0.05, alpha: float = 2.0, iterations: int = 15
    ) -> None:
        self.factors, self.regularization, self.alpha, self.iterations = factors, regularization, alpha, iterations

    def params(self) -> dict[str, Any]:
        return {"factors": self.factors, "regularization": self.regularization, "alpha": self.alpha}

    def _fit(self, data: Interactions) -> None:
        # implicit runs its own threads: BLAS threads beside them only fight (it warns so);
        # imported first, so the limit also covers any BLAS the import loads
        implicit = _implicit()
        with threadpool_limits(1, "blas"):
            self._train(
                implicit.als.AlternatingLeastSquares(
                    factors=self.factors,
                    regularization=self.regularization,
                    alpha=self.alpha,
                    iterations=self.iterations,
                    random_state=0,
                    num_threads=2,
                    calculate_training_loss=False,
                )
            )


class BPR(_Factors):
    name = "bpr"

    def __init__(
        self, factors: int = 64, learning_rate: float = 0.05, regularization: float = 0.01, iterations: int = 100
    ) -> None:
        self.factors, self.learning_rate = factors, learning_rate
        self.regularization, self.iterations = regularization, iterations

    def params(self) -> dict[str, Any]:
        return {"factors": self.factors, "learning_rate": self.learning_rate, "iterations": self.iterations}

    def _fit(self, data: Interactions) -> None:
        implicit = _implicit()
        with threadpool_limits(1, "blas"):
            self._train(
                implicit.bpr.BayesianPersonalizedRanking(
                    factors=self.factors,
                    learning_rate=self.learning_rate,
                    regularization=self.regularization,
                    iterations=self.iterations,
                    random_state=0,
                    num_threads=2,
                )
            )
