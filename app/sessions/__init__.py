"""Exam sessions: questionnaires pinned to bank versions, enrolments, accommodations."""
