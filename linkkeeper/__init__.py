"""linkkeeper: keep a reading list alive.

Pipeline: curriculum (``readings.yaml``) -> check / archive -> ledger (``snapshots/``) ->
reports and pages.
"""

__version__ = "0.1.0"
