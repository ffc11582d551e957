"""The teacher surface: who has started, finished and been graded, and each report."""
