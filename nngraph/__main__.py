"""``python -m nngraph`` = the ``nngraph`` command."""
from .cli.main import main

raise SystemExit(main())
