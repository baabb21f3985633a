"""The learning map's part of the demo city: Yangzhou venues across its six districts and
bookings by the demo schools at each stage (booked, waitlisted, booked from the waitlist
when a school cancels, cancelled by a closure), and two study tours that need volunteer
escorts: one still waiting for them, one whose escort shift the demo volunteers fill.

Everything goes through the resources API: the Culture bureau's coordinator puts its
venues on the map, the Science Association's its science museum, and each school's staff
book for their own school. Idempotency keys are `demo-resources-<step>-<n>`; slot times are
the venues' first slots on days after the anchor, so a re-run sends the same bodies.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts.resources import CITY_TZ, OpeningHours, slot_starts_on
from contracts.volunteers import escort_shift_id
from tongxin.demo import DemoRun, marker_path
from tongxin.demo.core import Api, DemoError

WEEKDAYS = (2, 3, 4, 5, 6, 7)  # Tuesday to Sunday: most public venues close on Mondays.
EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True)
class VenuePlan:
    key: str
    name: str
    kind: str
    district: str
    address: str
    latitude: float
    longitude: float
    lists: tuple[str, ...]
    capacity: int
    heritage: bool = False
    owner: str = "cult"
    opens: str = "09:00"
    closes: str = "17:00"
    days: tuple[int, ...] = WEEKDAYS
    slot_minutes: int = 120
    age_min: int = 6
    age_max: int = 18
    quota_per_term: int | None = None

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "district": self.district,
            "address": self.address,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "owner": self.owner,
            "lists": list(self.lists),
            "heritage": self.heritage,
            "capacity": self.capacity,
            "slot_minutes": self.slot_minutes,
            "opening_hours": [
                {"weekday": d, "opens": self.opens, "closes": self.closes} for d in self.days
            ],
            "age_min": self.age_min,
            "age_max": self.age_max,
            "quota_per_term": self.quota_per_term,
            "min_notice_hours": 24,
            "accessible": True,
        }

    def slot(self, anchor: datetime, days_after: int, index: int = 0) -> datetime:
        """The venue's `index`-th slot on the first open day `days_after` days or more on."""
        hours = [OpeningHours(weekday=d, opens=self.opens, closes=self.closes) for d in self.days]
        day = anchor.astimezone(CITY_TZ).date() + timedelta(days=days_after)
        while True:
            starts = list(slot_starts_on(hours, self.slot_minutes, day))
            if starts:
                return starts[index]
            day += timedelta(days=1)


BOTH = ("practice-base", "course-development")
VENUES = (
    VenuePlan("canal-museum", "中国大运河博物馆 China Grand Canal Museum", "museum", "321002",
              "扬州市广陵区文旅路1号", 32.3836, 119.4490, BOTH, 60, heritage=True,
              quota_per_term=2),
    VenuePlan("ge-garden", "个园 Ge Garden", "heritage-site", "321002",
              "扬州市广陵区盐阜东路10号", 32.3990, 119.4390, ("course-development",), 40,
              heritage=True, opens="08:00", closes="18:00", days=EVERY_DAY),
    VenuePlan("dongguan-street", "东关街历史文化街区 Dongguan Street", "heritage-site",
              "321002", "扬州市广陵区东关街", 32.3975, 119.4420, ("course-development",), 50,
              heritage=True, opens="08:00", closes="18:00", days=EVERY_DAY),
    VenuePlan("police", "扬州市公安局警营开放日 Yangzhou Police Open Camp", "police-station",
              "321002", "扬州市广陵区文昌中路", 32.3940, 119.4300, ("practice-base",), 30,
              days=(6,), age_min=8),
    VenuePlan("subei-hospital", "苏北人民医院健康教育基地 Subei People's Hospital", "hospital",
              "321002", "扬州市广陵区南通西路98号", 32.3880, 119.4250, ("practice-base",), 25,
              days=(3, 6), age_min=10),
    VenuePlan("yz-museum", "扬州博物馆 Yangzhou Museum", "museum", "321003",
              "扬州市邗江区文昌西路468号", 32.3935, 119.3870, BOTH, 60, quota_per_term=2),
    VenuePlan("library", "扬州市图书馆 Yangzhou Library", "library", "321003",
              "扬州市邗江区文昌西路", 32.3930, 119.3960, ("practice-base",), 45,
              slot_minutes=90, age_min=5),
    VenuePlan("science", "扬州科技馆 Yangzhou Science and Technology Museum", "science-museum",
              "321003", "扬州市邗江区文昌西路", 32.3870, 119.3850, BOTH, 80, owner="sci"),
    VenuePlan("university", "扬州大学 Yangzhou University", "university", "321003",
              "扬州市邗江区大学南路88号", 32.3950, 119.4110, ("course-development",), 50,
              days=(6, 7), age_min=12),
    VenuePlan("daming-temple", "大明寺 Daming Temple", "heritage-site", "321003",
              "扬州市邗江区平山堂东路1号", 32.4180, 119.4200, ("course-development",), 40,
              heritage=True, opens="08:00", closes="17:00", days=EVERY_DAY),
    VenuePlan("hydro-hub", "江都水利枢纽 Jiangdu Water Conservancy Hub", "enterprise", "321012",
              "扬州市江都区龙川北路", 32.4290, 119.5630, ("practice-base",), 50, age_min=10),
    VenuePlan("jiangdu-library", "江都区图书馆 Jiangdu District Library", "library", "321012",
              "扬州市江都区", 32.4350, 119.5600, ("practice-base",), 30, slot_minutes=90),
    VenuePlan("yizheng-museum", "仪征市博物馆 Yizheng Museum", "museum", "321081",
              "仪征市真州镇", 32.2720, 119.1840, ("course-development",), 40),
    VenuePlan("yucheng-post", "盂城驿 Yucheng Post Station", "heritage-site", "321084",
              "高邮市南门大街", 32.7790, 119.4470, BOTH, 40, heritage=True),
    VenuePlan("gaoyou-community", "高邮市城北社区中心 Gaoyou Chengbei Community Centre",
              "community-centre", "321084", "高邮市", 32.7950, 119.4500, ("practice-base",), 30,
              days=(6, 7), age_min=3),
    VenuePlan("baoying-museum", "宝应县博物馆 Baoying Museum", "museum", "321023",
              "宝应县安宜镇", 33.2400, 119.3100, ("course-development",), 40),
)  # fmt: skip

SCHOOLS = ("yz-dongguan-primary", "yz-meiling-primary", "yz-yucai-primary", "yz-wenhe-primary")


@dataclass(frozen=True)
class BookingPlan:
    key: str
    venue: str
    school: str
    head_count: int
    days_after: int
    slot_index: int = 0
    age: int = 10
    waitlist: bool = False
    study_tour: bool = False


# Canal museum, first slot next week: Dongguan (40) and Yucai (20) fill it; Meiling (30) and
# Wenhe (20) wait. Dongguan then cancels: Meiling is booked; Wenhe's 20 do not fit the 10
# left, so Wenhe keeps waiting. Yangzhou Museum closes for a day, cancelling Meiling's visit.
BOOKINGS = (
    BookingPlan("canal-dongguan", "canal-museum", "yz-dongguan-primary", 40, 7),
    BookingPlan("canal-yucai", "canal-museum", "yz-yucai-primary", 20, 7),
    BookingPlan("canal-meiling", "canal-museum", "yz-meiling-primary", 30, 7, waitlist=True),
    BookingPlan("canal-wenhe", "canal-museum", "yz-wenhe-primary", 20, 7, waitlist=True),
    BookingPlan("museum-meiling", "yz-museum", "yz-meiling-primary", 45, 9),
    BookingPlan("museum-wenhe", "yz-museum", "yz-wenhe-primary", 50, 10, slot_index=1, age=11),
    BookingPlan("ge-dongguan", "ge-garden", "yz-dongguan-primary", 35, 3, age=9),
    BookingPlan("ge-yucai", "ge-garden", "yz-yucai-primary", 38, 3, slot_index=1, age=9),
    BookingPlan("street-wenhe", "dongguan-street", "yz-wenhe-primary", 45, 4),
    BookingPlan("library-yucai", "library", "yz-yucai-primary", 40, 5, age=8),
    BookingPlan("science-dongguan", "science", "yz-dongguan-primary", 72, 6, age=11),
    BookingPlan("science-meiling", "science", "yz-meiling-primary", 80, 6, slot_index=1),
    BookingPlan("temple-meiling", "daming-temple", "yz-meiling-primary", 40, 8, age=12),
    BookingPlan("hub-wenhe", "hydro-hub", "yz-wenhe-primary", 48, 11, age=12),
    BookingPlan("police-yucai", "police", "yz-yucai-primary", 30, 3, age=10),
    BookingPlan("post-dongguan", "yucheng-post", "yz-dongguan-primary", 36, 12, age=11),
)
# Study tours of more than 40 children need volunteer escorts (3 for these): Yucai's waits
# for them; Wenhe's escort shift is filled by three of the volunteers' demo parents.
STUDY_TOURS = (
    BookingPlan("tour-yucai", "dongguan-street", "yz-yucai-primary", 48, 15, age=11,
                study_tour=True),
    BookingPlan("tour-wenhe", "hydro-hub", "yz-wenhe-primary", 45, 16, age=12,
                study_tour=True),
)  # fmt: skip
ESCORTED = "tour-wenhe"
ESCORTS = ("v01", "v02", "v03")  # volunteers of the volunteers' demo with passed checks
CANCELLED = ("canal-dongguan",)
CLOSED = ("yz-museum", 9, "馆内设施检修 closed for maintenance")


def load(run: DemoRun) -> dict[str, Any]:
    """The learning map's part; what it returns is kept in its "loaded" marker."""
    url = run.endpoints.of("resources")
    cult = run.api(_token(run, "coordinator", "cult", "demo-cult-map"))
    sci = run.api(_token(run, "coordinator", "sci", "demo-sci-venues"))
    venue_ids: dict[str, str] = {}
    with run.console.status("[bold]demo[/] learning map venues"):
        for n, venue in enumerate(VENUES, 1):
            api = sci if venue.owner == "sci" else cult
            answer = api.send(
                "POST", f"{url}/venues", key=f"demo-resources-venue-{n}", json_body=venue.body()
            )
            venue_ids[venue.key] = answer["venue_id"]
    plans = {v.key: v for v in VENUES}
    schools = {s: run.api(_token(run, "school-staff", "edu", f"demo-{s}", s)) for s in SCHOOLS}
    bookings: dict[str, dict[str, Any]] = {}
    with run.console.status("[bold]demo[/] bookings"):
        for n, b in enumerate(BOOKINGS + STUDY_TOURS, 1):
            venue = plans[b.venue]
            body = {
                "starts_at": venue.slot(run.anchor, b.days_after, b.slot_index).isoformat(),
                "school_id": b.school,
                "head_count": b.head_count,
                "age": b.age,
                "teachers": max(2, b.head_count // 15),
                "waitlist": b.waitlist,
                "study_tour": b.study_tour,
            }
            bookings[b.key] = schools[b.school].send(
                "POST",
                f"{url}/venues/{venue_ids[b.venue]}/bookings",
                key=f"demo-resources-booking-{n}",
                json_body=body,
            )
        for n, key in enumerate(CANCELLED, 1):
            booked = bookings[key]
            school = next(b.school for b in BOOKINGS if b.key == key)
            schools[school].send(
                "POST",
                f"{url}/slots/{booked['slot_id']}/bookings/{booked['booking_id']}/cancellation",
                key=f"demo-resources-cancel-{n}",
                json_body={},
            )
        venue_key, days_after, reason = CLOSED
        day = plans[venue_key].slot(run.anchor, days_after).replace(hour=0, minute=0)
        closed = cult.send(
            "POST",
            f"{url}/venues/{venue_ids[venue_key]}/closures",
            key="demo-resources-closure-1",
            json_body={
                "starts_at": day.isoformat(),
                "ends_at": (day + timedelta(days=1)).isoformat(),
                "reason": reason,
            },
        )
    with run.console.status("[bold]demo[/] study-tour escorts"):
        escorted = _sign_up_escorts(run, bookings[ESCORTED]["booking_id"])
    run.console.print(
        f"demo loaded: {len(VENUES)} venues in 6 districts, "
        f"{len(BOOKINGS) + len(STUDY_TOURS)} bookings, "
        f"{len(closed.get('cancelled', []))} cancelled by a closure, "
        f"{len(STUDY_TOURS)} study tours needing escorts ({escorted} signed up for one)"
    )
    return {
        "venues": venue_ids,
        "bookings": {k: v["booking_id"] for k, v in bookings.items()},
    }


def _sign_up_escorts(run: DemoRun, booking_id: str) -> int:
    """Sign the volunteers' demo escorts up for the tour's shift, once volunteers has opened
    it (from the tour's event); 0 when the volunteers' part is not loaded here."""
    path = marker_path(run.state_dir, "volunteers")
    if not path.exists():
        return 0
    known = json.loads(path.read_text(encoding="utf-8")).get("volunteers", {})
    ids = [known[key] for key in ESCORTS if key in known]
    coordinator = Api(run.client, _token(run, "coordinator", "cyl", "demo-cyl-escorts"))
    url = f"{run.endpoints.of('volunteers')}/shifts/{escort_shift_id(booking_id)}/sign-ups"
    for n, volunteer_id in enumerate(ids, 1):
        deadline = time.monotonic() + run.travel_timeout_s
        while True:
            response = run.client.post(
                url,
                json={"volunteer_id": volunteer_id},
                headers=coordinator.headers | {"Idempotency-Key": f"demo-resources-escort-{n}"},
            )
            if response.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the study tour's escort shift did not open within "
                    f"{run.travel_timeout_s:.0f} s ({response.status_code}: {response.text[:200]})"
                )
            time.sleep(0.25)
    return len(ids)


def _token(
    run: DemoRun, role: str, department: str, subject: str, school: str | None = None
) -> str:
    scope = f"school:{school}" if school else "city"
    return run.issuer.token(
        role=role, department=department, subject=subject, scope=scope, ttl_s=3600
    )
