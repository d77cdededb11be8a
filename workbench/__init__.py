"""Workbench: an analytics workbench for LLM/RAG chat products and call centres."""

__version__ = "0.1.0"
