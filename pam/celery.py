"""The Celery application: configured from Django settings (CELERY_* names)."""

import gc
import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pam.settings")

logger = logging.getLogger(__name__)

app = Celery("pam")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def gc_freeze_long_lived() -> int:
    """Move every object alive now (modules, classes, Django's and the apps' set-up: some
    200,000 objects in a worker's process) out of the cyclic garbage collector's reach;
    how many are frozen.

    A worker allocates a lot per event (payloads, rows, closures), so the collector runs
    often, and each full pass walked all of those long-lived objects too. Measured with
    `benchmarks/rules.py` (README, BeAware rules): the worker's CPU per event fell by about
    a fifth. The objects are still freed by reference counting; only a reference cycle
    among them would never be collected, and set-up objects live as long as the process.
    `WORKER_GC_FREEZE=false` turns it off (the test suite does: its process is not a
    worker's)."""
    from django.conf import settings

    if not settings.WORKER_GC_FREEZE:
        return 0
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("process %s: %s long-lived objects frozen out of the garbage collector", os.getpid(), frozen)
    return frozen


@signals.worker_process_init.connect
def _freeze_in_pool_process(**kwargs) -> None:
    # A prefork pool's process, once forked and set up: where its tasks run.
    gc_freeze_long_lived()


@signals.worker_ready.connect
def _freeze_in_worker(**kwargs) -> None:
    # The worker's own process: where the solo and threads pools run their tasks.
    gc_freeze_long_lived()
