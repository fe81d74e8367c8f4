"""`lookout` and `python -m lookout`: the command line, imported when a command runs.

uvicorn starts each `lookout serve` worker by running the `lookout` script again (it is the
main module multiprocessing's spawn re-imports), so importing this module loads none of the
command line: a worker imports the server's modules only.
"""

from __future__ import annotations


def main() -> None:
    from lookout.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()
