"""``python -m timecontrast`` is the ``tcn`` command."""

from timecontrast.cli.main import main

raise SystemExit(main())
