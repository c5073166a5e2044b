"""What a launcher does when one of its searches is fully COMPLETED."""

from __future__ import annotations

import logging

from alfred_core.tree import Search

logger = logging.getLogger(__name__)


def after_search_done(search: Search) -> None:
    # Filled by the results module: plot arrays and summary, made once per search.
    logger.info("%s: every run completed", search.name)
