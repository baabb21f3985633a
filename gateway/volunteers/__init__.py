"""The volunteers feature of the GraphQL API: types, queries, mutations, subscriptions."""
