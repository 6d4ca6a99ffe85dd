"""Users, roles, passwords, server-side sessions and CSRF protection."""
