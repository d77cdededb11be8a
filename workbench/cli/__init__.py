"""The `workbench` command: the entry point and one module per command group, over the same services
the pages call."""
