"""The committees feature: its read model, types, queries and subscriptions."""

from gateway.committees.policy import READS
from gateway.committees.queries import CommitteesQuery
from gateway.committees.readmodel import CommitteesReadModel
from gateway.committees.state import NAME
from gateway.committees.subscriptions import CommitteesSubscription
from gateway.core.feature import Feature

FEATURE = Feature(
    name=NAME,
    readmodel=CommitteesReadModel,
    query=CommitteesQuery,
    subscription=CommitteesSubscription,
    reads=READS,
)
