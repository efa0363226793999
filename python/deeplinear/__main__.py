"""``python -m deeplinear``: the ``deeplinear`` command line (see :mod:`deeplinear.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
