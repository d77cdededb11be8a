"""Running the workbench: backup and restore, the doctor's consistency check, legacy imports and the
demo data."""
