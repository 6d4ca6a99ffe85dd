"""Question banks: the file format, validation, immutable versions and their diffs."""
