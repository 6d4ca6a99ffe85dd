"""The jury's exports of a session (CSV, XLSX, PDF procès-verbal, JSON). Pure: no DB, no web."""
