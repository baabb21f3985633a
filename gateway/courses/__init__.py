"""The courses feature: parent schools, the catalogue, sessions, points and participation."""

from gateway.core.feature import Feature
from gateway.courses.policy import READS
from gateway.courses.queries import CoursesQuery
from gateway.courses.readmodel import CoursesReadModel
from gateway.courses.state import NAME
from gateway.courses.subscriptions import CoursesSubscription

FEATURE = Feature(
    name=NAME,
    readmodel=CoursesReadModel,
    query=CoursesQuery,
    subscription=CoursesSubscription,
    reads=READS,
)
