"""`ecomlake report`: one static, self-contained HTML dashboard built from the metrics JSON.

    from ecomlake.config import load_settings
    from ecomlake.report import build_dashboard

    result = build_dashboard(load_settings(), since="14d")   # writes <reports>/index.html
    result.path, result.window.start, result.window.end, result.bad_files

The page needs no server and loads nothing: styles and SVG charts are inline, and a Content
Security Policy forbids every external fetch, so it opens from a file on an air-gapped laptop.
"""

from __future__ import annotations

from ecomlake.report.dashboard import DashboardResult, Window, build_dashboard, parse_since

__all__ = ["DashboardResult", "Window", "build_dashboard", "parse_since"]
