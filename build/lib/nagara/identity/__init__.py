"""Citizens, officers and partner systems: sign-in, sessions, tokens, roles and permissions."""
