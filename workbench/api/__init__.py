"""The HTTP API: a third face of the service functions, beside the pages and the CLI.

    app        the FastAPI application: errors as JSON with the right status, the routers, the docs
    keys       `Authorization: Bearer <key>` -> the key's Context; repeated failures rate-limited
    openai     OpenAI-compatible chat: GET /v1/models, POST /v1/chat/completions (streaming too)
    usage      OTLP/HTTP traces and JSON batches of LLM calls in, the usage report out
    documents  upload, list, get, delete and search documents
    projects   list, create, rename, archive and delete (confirmed) projects
    calls      import calls, list and read them, search utterances, QA pairs, dataset exports
    models     the registry's models and versions, promotion through the gate, scoring
    sql        one reading query through the SQL console's sandbox

Every route takes the key's context and calls the same service function the page calls; the
permission and tenant checks are there, not here. `workbench api` (and `make run`) serves it.
"""
