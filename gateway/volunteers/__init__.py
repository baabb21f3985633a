"""The volunteers feature: its read model, types, queries, mutations and subscriptions."""

from gateway.core.feature import Feature
from gateway.volunteers.mutations import VolunteersMutation
from gateway.volunteers.policy import READS
from gateway.volunteers.queries import VolunteersQuery
from gateway.volunteers.readmodel import VolunteersReadModel
from gateway.volunteers.state import NAME
from gateway.volunteers.subscriptions import VolunteersSubscription

FEATURE = Feature(
    name=NAME,
    readmodel=VolunteersReadModel,
    query=VolunteersQuery,
    mutation=VolunteersMutation,
    subscription=VolunteersSubscription,
    renamed_from="gateway-readmodel.sqlite3",
    reads=READS,
)
