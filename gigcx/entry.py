"""Console entry point: patches the standard library for gevent before anything else loads."""
import sys


def main() -> None:
    """Run the `gigcx` command; `serve` runs under gevent, so it patches first."""
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        from gevent import monkey

        monkey.patch_all()
    from gigcx.cli import cli

    cli(prog_name="gigcx")
