"""The feeds feature: partners' endpoints, agreements and delivery figures for prop staff."""

from gateway.core.feature import Feature
from gateway.feeds.policy import READS
from gateway.feeds.queries import NAME, FeedsQuery
from gateway.feeds.readmodel import FeedsReadModel

FEATURE = Feature(name=NAME, readmodel=FeedsReadModel, query=FeedsQuery, reads=READS)
