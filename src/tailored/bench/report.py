"""Markdown tables and plots for benchmark reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def fmt(value: float | int | str | None, digits: int = 3) -> str:
    """A table cell: floats rounded, missing values as ``n/a``."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[float | int | str | None]], digits: int = 3) -> str:
    """A GitHub-flavoured markdown table.

    Examples
    --------
    >>> print(table(["mode", "R@10"], [["bm25", 0.5]]))
    | mode | R@10 |
    | --- | --- |
    | bm25 | 0.500 |
    """
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(fmt(v, digits) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def recall_plot(
    path: Path,
    title: str,
    ks: Sequence[int],
    series: dict[str, Sequence[float]],
) -> Path | None:
    """Recall@k curves, one line per series; ``None`` when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for name, values in series.items():
        ax.plot(list(ks), list(values), marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xticks(list(ks))
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
