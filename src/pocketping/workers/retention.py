"""Retention (``pocketping project update PROJECT_ID --retention-days N``): closed conversations
older than N days are erased, as ``erase`` does, copies in the chat apps included. Run by the
hourly pruner on the injected clock (it sleeps between rounds: nothing spins when idle)."""

from __future__ import annotations

import logging

from pocketping.actions.erasure import retention
from pocketping.actions.services import Services

log = logging.getLogger(__name__)


async def run_retention(svc: Services) -> int:
    """One round over every project with a retention; returns how many sessions were erased."""
    erased = 0
    for project in await retention(svc):
        count = len(project["sessions"])
        if count:
            log.info("retention: erased %d closed conversations of %s older than %d days (%s)", count,
                     project["projectId"], project["retentionDays"], ", ".join(project["eraseIds"]))
        erased += count
    return erased
