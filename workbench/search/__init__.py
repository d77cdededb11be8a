"""Embedding and the vector store: embedders (sentence-transformers, ONNX, the test hash) and LanceDB
hybrid search."""

# here, not in vectors, so that the CLI can offer the modes without loading LanceDB
SEARCH_MODES = ("hybrid", "vector", "text")
