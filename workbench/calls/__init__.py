"""Call-centre calls: importing transcripts, browsing, keyword and semantic search, metrics, intents,
QA pairs and the datasets exported from them."""
