"""The ``nngraph`` command line (``nngraph.cli.main:main``); each subcommand lives in its own module."""
