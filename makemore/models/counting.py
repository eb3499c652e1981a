"""The n-gram counts of a split of any size: each block of words counted in torch, and the blocks' counts merged by
DuckDB, which spills to disk what does not fit in its memory. Only the distinct n-grams are ever held whole."""

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from makemore.artifacts import scratch_database
from makemore.models.contexts import ContextIndex, Positions, Split, combined, numbered


@dataclass(frozen=True)
class NGramCounts:
    """Distinct n-grams of `order` tokens and how many times each occurs: a row of tokens each, its context oldest
    first (the boundary before a word's start) and the token predicted last. It reads as positions do
    (`token_back`, `targets`), so that a ContextIndex numbers its contexts as it numbers the positions'."""

    tokens: torch.Tensor  # (N, order)
    counts: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def targets(self) -> torch.Tensor:
        return self.tokens[:, -1]

    def token_back(self, distance: int) -> torch.Tensor:
        return self.tokens[:, -1 - distance]

    @property
    def positions(self) -> int:
        """How many positions the n-grams were counted at."""
        return int(self.counts.sum())

    @classmethod
    def of(cls, split: Split, order: int, vocab_size: int) -> "NGramCounts":
        """The n-grams of every position of `split`, a block of words at a time."""
        blocks = iter(split.chunks())
        counted = cls.of_block(next(blocks), order, vocab_size)
        if (block := next(blocks, None)) is None:  # one block: nothing to merge
            return counted
        return merged([counted, cls.of_block(block, order, vocab_size)], blocks, order, vocab_size)

    @classmethod
    def of_block(cls, positions: Positions, order: int, vocab_size: int) -> "NGramCounts":
        for keys, ids in ContextIndex.levels(positions, order - 1, vocab_size):  # noqa: B007 (the last level's)
            contexts = 1 if keys is None else len(keys)
        codes, inverse, counts = numbered(
            combined(ids, vocab_size, positions.targets, contexts), contexts * vocab_size
        )
        # an n-gram's tokens, read at its first position
        first = torch.full((len(codes),), len(positions)).scatter_reduce(
            0, inverse.long(), torch.arange(len(positions)), "amin"
        )
        columns = [positions.token_back(distance, first) for distance in range(order - 1, 0, -1)]
        tokens = torch.stack([*columns, positions.targets[first]], dim=1).int()
        return cls(tokens, counts.long())


def merged(
    counted: list[NGramCounts], blocks: Iterator[Positions], order: int, vocab_size: int
) -> NGramCounts:
    """The counts of every block summed by n-gram, in DuckDB."""
    columns = [f"t{i}" for i in range(order)]
    with scratch_database("counting the n-grams") as connection:
        connection.execute(f"CREATE TABLE blocks ({', '.join(f'{c} INTEGER' for c in columns)}, n BIGINT)")

        def insert(block: NGramCounts) -> None:
            frame = {c: block.tokens[:, i].contiguous().numpy() for i, c in enumerate(columns)}
            frame["n"] = block.counts.numpy()
            connection.execute("INSERT INTO blocks SELECT * FROM frame")  # DuckDB reads `frame` by its name

        for block in counted:
            insert(block)
        for positions in blocks:
            insert(NGramCounts.of_block(positions, order, vocab_size))
        query = f"SELECT {', '.join(columns)}, sum(n)::BIGINT AS n FROM blocks GROUP BY ALL"
        result = connection.execute(query).fetchnumpy()
    tokens = torch.stack([torch.from_numpy(result[c]) for c in columns], dim=1)
    return NGramCounts(tokens.int(), torch.from_numpy(result["n"]).long())
