"""``bench/bisect.py``: the bot's bisect beside ``git bisect run`` (see bisect_search.py).

    .venv/bin/python bench/bisect.py --commits 64 --reps 10

Any script run from this folder puts the folder first on sys.path, so the standard library's
``import bisect`` (random does it, and much imports random) finds this file. Imported under
that name, it hands over the standard library's module instead; run as a script, it runs the
benchmark, which lives in bisect_search.py so that importing it never runs it.
"""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
from pathlib import Path

if __name__ == "__main__":
    from bisect_search import main

    sys.exit(main())
else:
    _spec = importlib.util.spec_from_file_location(
        "bisect", Path(sysconfig.get_path("stdlib")) / "bisect.py"
    )
    assert _spec is not None and _spec.loader is not None
    _stdlib = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_stdlib)
    # The import system returns whatever sys.modules holds once this file has run.
    sys.modules["bisect"] = _stdlib
