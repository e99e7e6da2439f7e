"""Benchmarks: a synthetic PFOCR corpus generator and the indexing benchmark."""
