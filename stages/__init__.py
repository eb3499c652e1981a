"""The pipeline's stages, each run by dvc.yaml as `python -m stages.NAME`. Importing this package first sets how a
stage ends on a Ctrl-C or a SIGTERM (one line, `interrupted`), before the stage's imports of torch."""

from makemore import handle_interrupts

handle_interrupts()
