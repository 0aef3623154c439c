"""Sign-in and what guards it: password hashing and policy, TOTP, throttling, sessions, tokens."""
