"""The alliance feature: the plan, figures as of any day, assessments, live target moves."""

from gateway.alliance.mutations import AllianceMutation
from gateway.alliance.policy import READS
from gateway.alliance.queries import AllianceQuery
from gateway.alliance.readmodel import AllianceReadModel
from gateway.alliance.state import NAME
from gateway.alliance.subscriptions import AllianceSubscription
from gateway.core.feature import Feature

FEATURE = Feature(
    name=NAME,
    readmodel=AllianceReadModel,
    query=AllianceQuery,
    mutation=AllianceMutation,
    subscription=AllianceSubscription,
    reads=READS,
)
