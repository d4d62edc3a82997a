"""Pictures and pages for a run folder: sample grids, curves, report.html."""
