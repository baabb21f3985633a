"""The learning map feature: venues, figures, availability, bookings, places left."""

from gateway.core.feature import Feature
from gateway.resources.mutations import ResourcesMutation
from gateway.resources.policy import READS
from gateway.resources.queries import ResourcesQuery
from gateway.resources.readmodel import ResourcesReadModel
from gateway.resources.state import NAME
from gateway.resources.subscriptions import ResourcesSubscription

FEATURE = Feature(
    name=NAME,
    readmodel=ResourcesReadModel,
    query=ResourcesQuery,
    mutation=ResourcesMutation,
    subscription=ResourcesSubscription,
    reads=READS,
)
