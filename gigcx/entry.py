"""Console entry point: patches the standard library for gevent before anything else loads."""
import sys


def main() -> None:
    """Run the `gigcx` command; `serve` runs under gevent, so it patches first."""
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        import gevent
        from gevent import monkey

        # Greenlets would keep their spawning stack: ~30 frame objects per connection that every
        # full garbage collection walks (docs/benchmarks.md, "Garbage collection"); nothing uses them.
        gevent.config.track_greenlet_tree = False
        monkey.patch_all()
    try:
        from gigcx.cli import cli

        cli(prog_name="gigcx")
    except KeyboardInterrupt:  # Ctrl-C: a normal way to stop, not a crash worth a traceback
        sys.stderr.write("\nstopped\n")
        sys.exit(0)
