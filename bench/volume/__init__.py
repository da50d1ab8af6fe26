"""The volume bench (``make bench-volume``): a production-sized history, then the
jobs, dashboards, lists and hot paths timed on it at 1x and 3x the history.

``load.py`` fills a migrated database set-based; ``operations.py`` holds one small
function per timed operation, ``console_pages.py`` one per page of ``opsdb
console`` (rendered end to end through the app); ``run.py`` runs them on a
dedicated cluster and prints the table with the 3x/1x ratios. See bench/README.md ("Volume").
"""
