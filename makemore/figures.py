"""The V x V grids of the lecture, drawn with matplotlib: counts, probabilities and their differences."""

import io
import sys

import torch
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

MAX_GRID_SIZE = 60  # beyond 60 x 60 cells the labels cannot be read at any sensible figure size


def grid(values: torch.Tensor, labels: list[str], title: str, fmt: str, diverging: bool = False) -> Figure:
    """Every cell shaded by its value and labelled with its bigram and the value formatted with `fmt`.

    `diverging` centres a red-blue scale on 0, for differences; otherwise the scale is white to blue.
    A vocabulary too large to draw gives a figure that says so instead.
    """
    size = len(labels)
    if size > MAX_GRID_SIZE:
        print(f"note: {title}: not drawn, {size} tokens are more than {MAX_GRID_SIZE}", file=sys.stderr)
        fig = Figure(figsize=(8, 1.5))
        fig.text(0.5, 0.6, title, ha="center", fontsize=12)
        fig.text(
            0.5,
            0.3,
            f"not drawn: {size} tokens make {size * size:,} cells, more than {MAX_GRID_SIZE} x {MAX_GRID_SIZE} can be read",
            ha="center",
        )
        return fig
    values = values.double()
    fig = Figure(figsize=(0.6 * size + 1.5, 0.6 * size + 0.6))
    ax = fig.add_subplot()
    limit = values.abs().max().item() or 1.0
    if diverging:
        cmap, norm = "RdBu", TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    else:
        cmap, norm = "Blues", Normalize(vmin=0.0, vmax=limit)
    image = ax.imshow(values.numpy(), cmap=cmap, norm=norm)
    for i in range(size):
        for j in range(size):
            # black text is hard to read on the darkest shades, far from 0: write in white there
            color = "white" if abs(values[i, j].item()) > 0.6 * limit else "black"
            ax.text(j, i, labels[i] + labels[j], ha="center", va="bottom", color=color, fontsize=8)
            ax.text(j, i, format(values[i, j].item(), fmt), ha="center", va="top", color=color, fontsize=8)
    ax.set_title(title, fontsize=14)
    ax.axis("off")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    fig.tight_layout()
    return fig


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
