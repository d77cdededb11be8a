"""Documents: records and who may see them, parsing, chunking, ingest and its background jobs, and
indexed git repositories."""
