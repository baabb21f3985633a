"""Every published event type, looked up by its CloudEvents type."""

from __future__ import annotations

from contracts import (
    alliance,
    care,
    checks,
    civil_registry,
    committees,
    courses,
    feeds,
    guidance,
    reports,
    resources,
    science,
    screening,
    volunteers,
)
from contracts.events import ContractEvent

ALL_EVENTS: tuple[type[ContractEvent], ...] = (
    volunteers.VolunteerRegistered,
    volunteers.VolunteerRegisteredV1,
    volunteers.VolunteerErased,
    volunteers.BackgroundCheckRequested,
    volunteers.BackgroundCheckRecorded,
    volunteers.ShiftPublished,
    volunteers.VolunteerSignedUp,
    volunteers.SignUpCancelled,
    volunteers.VolunteerCheckedIn,
    volunteers.VolunteerCheckedOut,
    volunteers.EscortShiftFilled,
    volunteers.ShiftClosed,
    checks.BackgroundCheckCompleted,
    feeds.AgreementSet,
    feeds.EndpointAdded,
    feeds.EndpointDisabled,
    feeds.EndpointEnabled,
    feeds.MessageDelivered,
    feeds.MessageDeadLettered,
    care.CareLeadNamed,
    care.FileOpened,
    care.IntakeReceived,
    care.FileStatusChanged,
    care.LeadAssigned,
    care.ReviewScheduled,
    care.HomeVisitRecorded,
    care.BreakGlassOpened,
    care.FileErased,
    care.ReferralChanged,
    civil_registry.ChildReferredToCare,
    screening.ScreeningResultIssued,
    *reports.REPORTS,
    *alliance.ALLIANCE_EVENTS,
    courses.ParentSchoolRegistered,
    courses.TenHaveEvidenceRecorded,
    courses.ParentSchoolInspected,
    courses.CoursePublished,
    courses.CourseRetired,
    courses.SessionScheduled,
    courses.SessionPlaceTaken,
    courses.SessionWaitlisted,
    courses.SessionRegistrationCancelled,
    courses.SessionAttended,
    courses.ParentEnrolled,
    courses.RankingConsentChanged,
    courses.ParentErased,
    courses.PointsAwarded,
    courses.PointsRulesChanged,
    guidance.CommunityParentSchoolInspected,
    committees.CommitteeFormed,
    committees.CommitteeMemberJoined,
    committees.CommitteeMemberLeft,
    committees.MeetingScheduled,
    committees.MeetingHeld,
    committees.SuggestionSubmitted,
    committees.SuggestionAssigned,
    committees.SuggestionEscalated,
    committees.SuggestionAnswered,
    committees.SuggestionClosed,
    committees.SuggestionReopened,
    resources.VenueRegistered,
    resources.VenueClosed,
    resources.VisitBooked,
    resources.VisitWaitlisted,
    resources.VisitCancelled,
    resources.VisitApproved,
    resources.VisitDeclined,
    resources.VisitCheckedIn,
    resources.VisitCompleted,
    resources.VisitReleased,
    resources.EscortsRequested,
    resources.StudyTourConfirmed,
    science.ScienceVenuePublished,
)

BY_TYPE: dict[str, type[ContractEvent]] = {cls.event_type(): cls for cls in ALL_EVENTS}


class UnknownEventTypeError(LookupError):
    """The CloudEvents type is not in the published language."""


def event_class(event_type: str) -> type[ContractEvent]:
    try:
        return BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventTypeError(event_type) from None
