"""Accounts: who acts (the context), logging in, users, organisations, projects, API keys, the audit
log, and the links that cascade deletes."""
