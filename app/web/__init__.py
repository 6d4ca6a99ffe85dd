"""Shared web plumbing: templates, htmx helpers, security headers, error pages."""
