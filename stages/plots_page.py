"""The offline page template of `dvc plots show` (makemore/plots_page.py), where .dvc/config looks for it."""

from makemore.artifacts import run_stage, write_text
from makemore.plots_page import page


def main() -> None:
    write_text("data/plots/page.html", page())


if __name__ == "__main__":
    run_stage(main)
