"""Rosters: OneRoster 1.2 CSV (Japan Profile) import and export of schools, classes and people."""
