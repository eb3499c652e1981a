"""The V x V grids of the lecture, drawn with matplotlib: counts, probabilities and their differences."""

import io
import sys

import torch
from matplotlib.axes import Axes
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
    label_cells(ax, values, labels, fmt, limit)
    ax.set_title(title, fontsize=14)
    ax.axis("off")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    fig.tight_layout()
    # tight_layout leaves a stand-in layout engine set, for which savefig draws every label once more before drawing
    # the image; the layout is done, so none is needed
    fig.set_layout_engine(None)
    return fig


def label_cells(ax: Axes, values: torch.Tensor, labels: list[str], fmt: str, limit: float) -> None:
    """Each cell's bigram above its value formatted with `fmt`. Each label lies within its cell, so the layout need
    not measure them (in_layout=False): the figure is the same, drawn sooner."""
    for i, row in enumerate(values.tolist()):
        for j, value in enumerate(row):
            # black text is hard to read on the darkest shades, far from 0: write in white there
            color = "white" if abs(value) > 0.6 * limit else "black"
            style = dict(ha="center", color=color, fontsize=8, in_layout=False)
            ax.text(j, i, labels[i] + labels[j], va="bottom", **style)
            ax.text(j, i, format(value, fmt), va="top", **style)


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
