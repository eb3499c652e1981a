"""The train/val/test split of a file of words of any size: the distinct words counted, shuffled by a seeded hash of
each and cut, by DuckDB, on disk, out of core."""

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import duckdb
import numpy

from makemore import MakemoreError
from makemore.artifacts import scratch_database, written


class Splits:
    """The distinct words of a stream of word chunks, each with its number of copies and its split, held by DuckDB in a
    scratch database on disk: no split is ever held whole in Python.

    The words are shuffled by a seeded hash, u = the top 53 bits of MD5("SEED:WORD") over 2^53, and cut into
    consecutive parts of the given fractions, what rounding down leaves over going to the first: the same order
    on every machine, however the file is read, and a split holds exactly its fraction of the distinct words.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, fractions: dict[str, float], duplicates: str):
        self.connection, self.duplicates = connection, duplicates
        distinct = connection.execute("SELECT count(*) FROM words").fetchone()[0]
        sizes = [int(distinct * fraction) for fraction in fractions.values()]
        sizes[0] += distinct - sum(sizes)
        for (name, fraction), size in zip(fractions.items(), sizes):
            if size == 0:
                raise MakemoreError(
                    f"split.{name} = {fraction} leaves the {name} split empty with {distinct:,} distinct words"
                )
        bounds = [*itertools.accumulate(sizes, initial=0)]
        self.ranges = dict(zip(fractions, itertools.pairwise(bounds)))

    @classmethod
    @contextmanager
    def of(
        cls,
        chunks: Iterable[Sequence[str]],
        fractions: dict[str, float],
        seed: int,
        duplicates: Literal["drop", "keep"] = "drop",
    ) -> Iterator["Splits"]:
        with scratch_database("splitting the words") as connection:
            connection.execute("CREATE TABLE lines (word VARCHAR)")
            for chunk in chunks:
                frame = {"word": numpy.array(chunk, dtype=object)}  # noqa: F841 (DuckDB reads it by its name)
                connection.execute("INSERT INTO lines SELECT word FROM frame")
            connection.execute(
                "CREATE TABLE words AS SELECT word, copies, row_number() OVER (ORDER BY u, word) - 1 AS rank "
                "FROM (SELECT word, count(*) AS copies, "
                f"(md5_number('{seed}:' || word) >> 75)::DOUBLE / 2 ** 53 AS u FROM lines GROUP BY word)"
            )
            connection.execute("DROP TABLE lines")
            yield cls(connection, fractions, duplicates)

    def where(self, name: str | None) -> str:
        """The SQL condition of the words of split `name` (None: every word)."""
        if name is None:
            return "true"
        start, end = self.ranges[name]
        return f"rank >= {start} AND rank < {end}"

    def distinct(self, name: str | None = None) -> int:
        """How many distinct words split `name` has (None: all the splits)."""
        return self.connection.execute(f"SELECT count(*) FROM words WHERE {self.where(name)}").fetchone()[0]

    def lines(self, name: str | None = None) -> int:
        """How many lines held a word of split `name` (None: any split), repeats included."""
        query = f"SELECT coalesce(sum(copies), 0)::BIGINT FROM words WHERE {self.where(name)}"
        return self.connection.execute(query).fetchone()[0]

    def size(self, name: str) -> int:
        """How many words split `name` has: its distinct words, and their repeats under `keep`."""
        return self.distinct(name) if self.duplicates == "drop" else self.lines(name)

    def ordered(self, name: str) -> str:
        """The query of split `name`'s words, in its order: a word's copies one after another under `keep`."""
        copies = ", range(copies)" if self.duplicates == "keep" else ""
        return f"SELECT word FROM words{copies} WHERE {self.where(name)} ORDER BY rank"

    def write(self, name: str, path: str | Path) -> None:
        """Split `name` to a file, a word a line, in its order."""
        with written(path) as temporary:
            quoted = str(temporary).replace("'", "''")
            self.connection.execute(
                f"COPY ({self.ordered(name)}) TO '{quoted}' "
                "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01')"
            )

    def words(self, name: str) -> list[str]:
        """Split `name`'s words, in its order."""
        return [word for (word,) in self.connection.execute(self.ordered(name)).fetchall()]


def split_words(
    words: Sequence[str], fractions: dict[str, float], seed: int, duplicates: Literal["drop", "keep"] = "drop"
) -> dict[str, list[str]]:
    """The splits of words held in memory, as `Splits` makes them."""
    with Splits.of([words], fractions, seed, duplicates) as splits:
        return {name: splits.words(name) for name in fractions}
