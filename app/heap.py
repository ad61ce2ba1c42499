"""A long-running process's start-up heap, kept out of the garbage collector's full passes."""

from __future__ import annotations

import gc

from sqlalchemy.orm import configure_mappers


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, classes, the ORM's configured mappers, the app)
    into the collector's permanent generation, once start-up has built them.

    CPython's full collections traverse every tracked object. A service process holds some
    300,000 from start-up that live as long as it does, and each operation of 10,000 devices
    makes the collector pass over them several times: frozen, they are skipped, and a full pass
    only walks what was made since. Call it once per process, from its entry point (never
    from code that tests import: the test process would keep every test's leftovers)."""
    configure_mappers()
    gc.collect()
    gc.freeze()
