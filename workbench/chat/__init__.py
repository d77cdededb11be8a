"""The RAG chat: asking (load, draft, ground, save), the analytics assistant, prompts and agents,
conversations, and the LLM providers."""
