"""The city dashboard at the gateway's `/`, in a real browser (Debian's chromium).

Volunteers' hours recorded through the API show on the page with the figures GraphQL
gives; a sign-up made while the page is open arrives live, without a reload; a district
opens its schools; staff open the events behind a target's value; the language switches;
a viewer sees the published totals and no events; every GraphQL request names its document
by hash; at a laptop's and a phone's width nothing overflows sideways and every panel can
be reached; nothing the page asks for leaves the machine and nothing fails on the console.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from gateway.main import create_gateway
from services.alliance.main import create_service as create_alliance
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from services.volunteers.main import create_service as create_volunteers
from tests.support.apps import served
from tests.support.browser import Traffic, is_loopback
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(240)

HANJIANG = "321003"
SCHOOL = "yz-hanjiang-experimental"  # in Hanjiang district (contracts/city.json)


@dataclass
class City:
    gateway: str
    volunteers: httpx.Client
    graphql: httpx.Client
    alliance: httpx.Client
    viewer: httpx.Client


@pytest.fixture
def city(sqlite_settings: Settings, nats_url: str, tmp_path: Path) -> Iterator[City]:
    # The embedded default's way: the gateway trusts, and signs in with, the dev issuer
    # whose keys are in the state folder.
    settings = sqlite_settings.model_copy(
        update={"nats_urls": nats_url, "auth_dev": True, "relay_idle_s": 0.01}
    )
    issuer = DevIssuer(settings.state_dir / "keys")
    staff = {"Authorization": f"Bearer {issuer.token(role='coordinator', department='cyl')}"}
    bureau = {"Authorization": f"Bearer {issuer.token(role='coordinator', department='edu')}"}
    viewer = {"Authorization": f"Bearer {issuer.token(role='viewer')}"}
    with (
        served(create_volunteers(settings)) as volunteers_url,
        served(create_alliance(settings)) as alliance_url,
        served(
            create_gateway(
                settings.model_copy(
                    update={"service_urls": f"volunteers={volunteers_url},alliance={alliance_url}"}
                ),
                readmodel_dir=tmp_path / "readmodels",
            )
        ) as gateway_url,
        httpx.Client(base_url=volunteers_url, headers=staff, timeout=30) as volunteers,
        httpx.Client(base_url=gateway_url, headers=staff, timeout=30) as graphql,
        httpx.Client(base_url=alliance_url, headers=bureau, timeout=30) as alliance,
        httpx.Client(base_url=gateway_url, headers=viewer, timeout=30) as viewing,
    ):
        yield City(gateway_url, volunteers, graphql, alliance, viewing)


def post(client: httpx.Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def shift(city: City, *, days: int, capacity: int) -> str:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    body = {
        "school_id": SCHOOL,
        "post": "library",
        "title": "图书角 Reading corner",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": capacity,
        "child_facing": False,
    }
    return str(post(city.volunteers, "/shifts", body, 201)["shift_id"])


def volunteer(city: City, name: str) -> str:
    body = {"display_name": name, "kind": "parent", "school_id": SCHOOL}
    return str(post(city.volunteers, "/volunteers", body, 201)["volunteer_id"])


def graphql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = client.post("/graphql", json={"query": query, "variables": variables or {}}).json()
    assert "errors" not in body, body
    return body["data"]


def school_hours(city: City) -> dict[str, float]:
    query = "{ schoolHours(first: 100) { edges { node { schoolId hours } } } }"
    edges = graphql(city.graphql, query)["schoolHours"]["edges"]
    return {e["node"]["schoolId"]: e["node"]["hours"] for e in edges}


HOURS_TARGET = "每校志愿服务≥4小时 Hours per school"


def hours_target(city: City) -> str:
    """The bureau's target over volunteer hours per school this term."""
    today = datetime.now(UTC).date()
    task = {
        "code": "T04",
        "title": "志愿服务 Volunteering",
        "action": "A2",
        "lead": "cyl",
        "starts_on": (today - timedelta(days=400)).isoformat(),
        "ends_on": (today + timedelta(days=400)).isoformat(),
    }
    task_id = post(city.alliance, "/tasks", task, 201)["task_id"]
    target = {
        "task_id": task_id,
        "title": HOURS_TARGET,
        "metric": "sum",
        "numerator": {"event_types": ["org.tongxin.volunteers.volunteer-checked-out.v1"]},
        "group_by": "school",
        "threshold": 4,
        "period": "term",
    }
    return str(post(city.alliance, "/targets", target, 201)["target_id"])


CONTRIBUTIONS = "query($id: ID!) { allianceContributions(targetId: $id) { eventKey school } }"


def contributions(city: City, target_id: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = graphql(city.graphql, CONTRIBUTIONS, {"id": target_id})[
        "allianceContributions"
    ]
    return found


@dataclass
class Visit:
    page: Page
    traffic: Traffic
    console: list[str]
    graphql: list[str]
    """The body of every GraphQL request the page made."""


async def open_dashboard(browser: Browser, url: str, role: str) -> Visit:
    traffic = Traffic()
    console: list[str] = []
    bodies: list[str] = []
    context = await browser.new_context(viewport=LAPTOP)
    await context.route("**/*", traffic.route)
    page = await context.new_page()
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: console.append(f"{error}\n{error.stack}"))
    page.on("requestfailed", lambda r: console.append(f"failed: {r.url}"))
    page.on(
        "request",
        lambda r: bodies.append(r.post_data or "") if r.url.endswith("/graphql") else None,
    )
    await page.goto(url)
    await page.get_by_role("dialog").wait_for()
    await page.check(f"input[name=role][value={role}]")
    await page.get_by_role("button", name="进入看板").click()
    try:
        await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    except PlaywrightTimeoutError:
        status = await page.locator("#live .status").inner_text()
        raise AssertionError(f"the dashboard did not load: {status} {console}") from None
    return Visit(page, traffic, console, bodies)


def figure(visit: Visit, selector: str) -> Any:
    return visit.page.locator(selector).inner_text()


LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

# Elements sticking out of the window on the right, outside the tables' own scrollers.
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
  .filter((e) => !e.closest(".scroll, dialog") && e.getClientRects().length)
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .map((e) => e.id || e.className || e.tagName)"""


async def fits(page: Page, viewport: dict[str, int]) -> None:
    """At this size nothing overflows sideways and every panel can be scrolled to, whole."""
    await page.set_viewport_size(viewport)
    await page.wait_for_function(f"innerWidth === {viewport['width']}")
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert await page.evaluate(OVERFLOWING) == []
    for panel in await page.locator("main > section:not([hidden])").all():
        await panel.scroll_into_view_if_needed()
        assert await panel.is_visible()
        box = await panel.bounding_box()
        assert box is not None and box["x"] >= 0, await panel.get_attribute("id")
        assert box["x"] + box["width"] <= viewport["width"], await panel.get_attribute("id")


def by_hash_only(bodies: list[str]) -> bool:
    """Every request names its document by hash and carries no document text."""
    return bool(bodies) and all('"persistedQuery"' in b and '"query"' not in b for b in bodies)


async def test_the_dashboard_shows_live_figures_by_district_and_school(
    browser: Browser, city: City, tmp_path: Path
) -> None:
    # Hours credited yesterday at a Hanjiang school; a shift tomorrow with three places.
    past = shift(city, days=-1, capacity=2)
    first = volunteer(city, "Chen Dong 陈东")
    post(city.volunteers, f"/shifts/{past}/sign-ups", {"volunteer_id": first})
    starts = datetime.now(UTC) - timedelta(days=1)
    post(
        city.volunteers,
        f"/shifts/{past}/check-ins",
        {"volunteer_id": first, "at": starts.isoformat()},
    )
    ends = (starts + timedelta(hours=1, minutes=30)).isoformat()
    post(city.volunteers, f"/shifts/{past}/check-outs", {"volunteer_id": first, "at": ends})
    upcoming = shift(city, days=1, capacity=3)
    await eventually(lambda: school_hours(city).get(SCHOOL) == 1.5, timeout=30)
    target_id = hours_target(city)
    await eventually(lambda: len(contributions(city, target_id)) == 1, timeout=30)

    visit = await open_dashboard(browser, f"{city.gateway}/", "coordinator")
    page = visit.page
    total = sum(school_hours(city).values())
    assert await figure(visit, "[data-figure=volunteerHours]") == f"{total:g}"
    assert await figure(visit, "[data-figure=openPlaces]") == "3"
    row = page.locator(f"#districts tr[data-row='{HANJIANG}']")
    assert await row.locator("[data-figure=hours]").inner_text() == "1.5"

    await fits(page, LAPTOP)

    # The courses' and committees' figures, as GraphQL gives them.
    figures = graphql(city.graphql, NEW_FIGURES)
    for key in ("parentParticipation", "tenHaves", "suggestionsOnTime", "checkedChildFacing"):
        assert await page.locator(f"#headline [data-figure={key}]").count() == 1, key
    answered = figures["committeeFigures"]["answered"]
    assert await figure(visit, "#committees [data-figure=answered]") == str(answered)
    districts = len(figures["city"]["districts"])
    assert await page.locator("#courses tbody tr").count() == districts

    # From a number to its events: the target's value opens the events behind it.
    await page.locator(f"#targets button[data-events='{target_id}']").click()
    events = page.locator("#targets .events tr[data-event]")
    await events.first.wait_for()
    keys = await events.evaluate_all("rows => rows.map((r) => r.dataset.event)")
    assert keys == [e["eventKey"] for e in contributions(city, target_id)]
    text = await page.locator("#targets .events").inner_text()
    assert "volunteer-checked-out" in text and "陈东" not in text
    await page.locator("#targets .events [data-action=close]").click()
    assert await page.locator("#targets .events").is_hidden()

    # A sign-up made elsewhere arrives without a reload.
    second = volunteer(city, "Lin Xia 林霞")
    post(city.volunteers, f"/shifts/{upcoming}/sign-ups", {"volunteer_id": second})
    await page.locator(f"#live .feed li[data-shift='{upcoming}']").first.wait_for(timeout=30_000)
    # Open places are read again after a burst of changes (a locator waits without eval,
    # which the page's Content-Security-Policy forbids).
    await expect(page.locator("[data-figure=openPlaces]")).to_have_text("2", timeout=30_000)

    # A district opens its schools; back to every district.
    await page.locator(f"#districts button[data-district='{HANJIANG}']").click()
    await page.locator(f"#districts tr[data-row='{SCHOOL}']").wait_for()
    assert (
        await page.locator(f"#districts tr[data-row='{SCHOOL}'] [data-figure=hours]").inner_text()
        == "1.5"
    )
    await page.get_by_role("button", name="全部区县").click()
    await row.wait_for()

    # Keyboard: the controls are reachable and named.
    await page.keyboard.press("Tab")
    focused = await page.evaluate(
        "document.activeElement.textContent || document.activeElement.ariaLabel"
    )
    assert focused.strip(), "the first control reached by keyboard has no name"
    for button in await page.get_by_role("button").all():
        assert (await button.inner_text()).strip() or await button.get_attribute("aria-label")

    # As of a past day: the alliance's figures are asked for that day.
    asked: list[str] = []
    page.on(
        "request", lambda r: asked.append(r.post_data or "") if r.url.endswith("/graphql") else None
    )
    day = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    await page.locator("#as-of").fill(day)
    await page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert any(f'"asOf":"{day}"' in body for body in asked), asked
    assert await page.locator("#departments tbody tr").count() == 13

    # A chart asked to draw in a box without size (a panel between two layouts) waits for one:
    # ECharts laid a map out at zero width on a singular transform and threw "reading '0'".
    await page.evaluate("document.querySelector('#map .chart').style.width = '0px'")

    # English on request, the same figures.
    await page.get_by_role("button", name="English / 中文").click()
    assert await page.locator("h1 [data-i18n=title]").inner_text() == "Education Alliance Dashboard"
    assert await row.locator("th").inner_text() == "Hanjiang"
    await page.evaluate("document.querySelector('#map .chart').style.width = ''")
    await page.wait_for_function("document.querySelector('#map .chart canvas')?.width > 0")
    await page.screenshot(path=tmp_path / "dashboard-en.png", full_page=True)

    # On a phone: one column, nothing sideways, every panel reachable.
    await fits(page, PHONE)
    await page.screenshot(path=tmp_path / "dashboard-phone.png", full_page=True)

    assert by_hash_only(visit.graphql), visit.graphql
    assert not visit.console, visit.console
    assert not visit.traffic.refused, visit.traffic.refused
    assert all(is_loopback(url) for url in visit.traffic.requests)


NEW_FIGURES = """{
  committeeFigures { answered }
  city { districts { code } }
}"""


async def test_a_viewer_sees_the_published_totals(browser: Browser, city: City) -> None:
    target_id = hours_target(city)
    visit = await open_dashboard(browser, f"{city.gateway}/", "viewer")
    assert await visit.page.locator("#who").inner_text() == "公众查看"
    assert await figure(visit, "[data-figure=volunteerHours]") == "0"
    assert await visit.page.locator("#departments tbody tr").count() == 13
    # The alliance answered (a service away would be said in the targets panel).
    assert await visit.page.locator("#targets .chosen").inner_text() == HOURS_TARGET
    # The target's value shows, and opens nothing: the events behind it are staff's.
    row = visit.page.locator(f"#targets tr[data-row='{target_id}']")
    assert await row.locator("[data-figure=value]").inner_text() == "–"
    assert await visit.page.locator("[data-events]").count() == 0
    refused = city.viewer.post(
        "/graphql", json={"query": CONTRIBUTIONS, "variables": {"id": target_id}}
    )
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["FORBIDDEN"]
    assert by_hash_only(visit.graphql), visit.graphql
    assert not visit.console, visit.console


def test_the_sign_in_is_only_the_embedded_defaults(
    sqlite_settings: Settings, dev_issuer: DevIssuer, tmp_path: Path
) -> None:
    production = sqlite_settings.model_copy(update={"auth_jwks_url": str(dev_issuer.jwks_path)})
    app = create_gateway(production, readmodel_dir=tmp_path / "readmodels", start_projector=False)
    with served(app) as url:
        refused = httpx.post(f"{url}/dashboard/sign-in", json={"role": "coordinator"})
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "sign-in-elsewhere"
        page = httpx.get(f"{url}/")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert httpx.get(f"{url}/dashboard/../../contracts/city.json").status_code == 404
