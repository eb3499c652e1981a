"""Figures drawn with matplotlib, returned as PNG bytes."""

import io

import torch
from matplotlib.figure import Figure


def count_grid(counts: torch.Tensor, labels: list[str]) -> bytes:
    """The lecture's V x V grid: every cell shaded by its count and labelled with its bigram and count."""
    size = len(labels)
    fig = Figure(figsize=(0.6 * size, 0.6 * size))
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    dark = counts.max().item() / 2  # above this the cell is dark blue: write on it in white
    for i in range(size):
        for j in range(size):
            color = "white" if counts[i, j] > dark else "dimgray"
            ax.text(j, i, labels[i] + labels[j], ha="center", va="bottom", color=color, fontsize=8)
            ax.text(j, i, str(counts[i, j].item()), ha="center", va="top", color=color, fontsize=8)
    ax.set_title("Bigram counts in the train split (row: first character, column: next)")
    ax.axis("off")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()
