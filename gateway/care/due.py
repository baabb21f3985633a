"""When a care file needs attention: the one place that decides, from dates, at query time.

A review is overdue once its date has passed; a home visit is due when the last visit
set a next date that has come, or when the family was not visited this school year
(every family in care is visited each school year, the seeds' 100% target). Computed
against the caller's "today" when read, so nothing has to fire at midnight. The care
service also keeps the review on its durable deadline: when a review passes unreviewed
on the service's clock it publishes `review-overdue`, which flags the file here (and
pushes it to subscribed worklists) whatever the gateway's own day.
"""

from __future__ import annotations

from datetime import date

SCHOOL_YEAR_STARTS = (9, 1)  # 1 September


def school_year_start(today: date) -> date:
    month, day = SCHOOL_YEAR_STARTS
    start = date(today.year, month, day)
    return start if today >= start else date(today.year - 1, month, day)


def review_overdue(review_on: date | None, today: date) -> bool:
    return review_on is not None and review_on < today


def visit_due(last_visit_on: date | None, next_visit_on: date | None, today: date) -> bool:
    if last_visit_on is None or last_visit_on < school_year_start(today):
        return True
    return next_visit_on is not None and next_visit_on <= today


# The same rules as SQL over the read model's `files` table, with their parameters.
REVIEW_OVERDUE_SQL = "(review_on IS NOT NULL AND review_on < :today)"
VISIT_DUE_SQL = (
    "(last_visit_on IS NULL OR last_visit_on < :year_start"
    " OR (next_visit_on IS NOT NULL AND next_visit_on <= :today))"
)


def sql_params(today: date) -> dict[str, str]:
    return {"today": today.isoformat(), "year_start": school_year_start(today).isoformat()}
