"""The `makemore` command's entry point (also `python -m makemore`): how it ends on a Ctrl-C is set before the
command's imports of torch and pandas, so that a Ctrl-C during them is one line too."""

from makemore import handle_interrupts


def main() -> None:
    handle_interrupts()
    from makemore.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()
