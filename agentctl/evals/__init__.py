"""Evals: suites of cases run as sessions, graded, and reported (docs/evals.md)."""
