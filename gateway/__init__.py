"""The Tongxin gateway: read models built from JetStream and the GraphQL API over them.

An app: run it with `python -m gateway`; import it only from its own tests.
"""
