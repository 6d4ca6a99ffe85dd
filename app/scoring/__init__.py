"""Scoring against the referential's threshold, with exact arithmetic."""
