"""The care feature: worklists, file timelines and coverage figures, without a child in them."""

from gateway.care.mutations import CareMutation
from gateway.care.policy import READS
from gateway.care.queries import CareQuery
from gateway.care.readmodel import CareReadModel
from gateway.care.state import NAME
from gateway.care.subscriptions import CareSubscription
from gateway.core.feature import Feature

FEATURE = Feature(
    name=NAME,
    readmodel=CareReadModel,
    query=CareQuery,
    mutation=CareMutation,
    subscription=CareSubscription,
    reads=READS,
)
