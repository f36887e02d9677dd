//! Local knowledge base: BM25 over .md and .txt files, for trying the server without AWS.
