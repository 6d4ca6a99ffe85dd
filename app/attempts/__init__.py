"""Candidate attempts: the frozen draw, the server-side timer, autosave, submission."""
