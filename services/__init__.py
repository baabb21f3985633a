"""Tongxin services: one deployable per boundary, plus the shared kit."""
