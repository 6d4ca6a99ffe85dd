"""Referential of the certification: versioned data file and its pure loader."""
