"""The SQL console: saved queries and one SELECT run in a bounded child process over the organisation's
rows."""
