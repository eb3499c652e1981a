"""Bigram character language models, built and evaluated by a DVC pipeline."""


class MakemoreError(Exception):
    """A problem with the user's data, params or artifacts, reported as one line without a traceback."""
