"""Importing legacy databases (seed 000's and seed 004's SQLite) into the workbench."""
