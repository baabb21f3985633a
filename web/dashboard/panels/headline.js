// The figures the leading group reads first, each with what it is out of.
import { sumOfPeople } from "../figures.js";
import { onTimeOf } from "./committees.js";
import { rateOf, standardOf } from "./courses.js";
import { number, people, t } from "../i18n.js";

function card(key, value, note) {
  return `<div class="card" role="listitem"><div class="value" data-figure="${key}">${value}</div>` +
    `<div class="label">${t(key)}</div><div class="note">${note ?? ""}</div></div>`;
}

// A share of two counts where both are shown; null when any cell is hidden or empty.
function share(parts) {
  let done = 0;
  let all = 0;
  for (const [part, whole] of parts) {
    if (part.value === null || whole === null) return null;
    done += part.value;
    all += whole;
  }
  return all ? (100 * done) / all : null;
}

function percent(value) {
  return value === null ? "—" : `${number(value, 1)}%`;
}

export function render(root, state) {
  const hours = state.hours.reduce((sum, row) => sum + row.hours, 0);
  const credited = sumOfPeople(state.hours.map((row) => row.volunteers));
  const schools = new Set(state.hours.filter((row) => row.hours > 0).map((row) => row.schoolId));
  const open = state.openPlaces ?? { upcomingShifts: 0, placesLeft: 0 };
  const cards = [
    card("volunteerHours", number(hours, 1)),
    card("volunteersCredited", people(credited)),
    card("schoolsWithVolunteers", number(schools.size), t("ofSchools", state.schools.size)),
    card("openPlaces", number(open.placesLeft), t("upcomingShifts", open.upcomingShifts)),
  ];
  if (state.coverage) {
    const rows = state.coverage.map((row) => [row.visited, row.filesInCare.value]);
    cards.push(card("homeVisitCoverage", percent(share(rows)), t("target100")));
  }
  if (state.venues) {
    const rows = state.venues.districtUtilisation.map((d) => [d.utilisation.bookedChildren, d.utilisation.offeredPlaces]);
    cards.push(card("resourceUtilisation", percent(share(rows)), t("target80", state.venues.learningMap.length)));
  }
  if (state.participation) {
    const shown = state.participation.filter((r) => r.active.value !== null && r.enrolled.value !== null);
    const rate = rateOf(state.participation);
    cards.push(card("parentParticipation", percent(rate === null ? null : 100 * rate), t("target90", shown.length)));
  }
  if (state.parentSchools) {
    const standard = standardOf(state.parentSchools.parentSchoolStandard);
    cards.push(card("tenHaves", percent(standard.share === null ? null : 100 * standard.share), t("ofParentSchools", standard.schools)));
  }
  if (state.committees) {
    const figures = state.committees.committeeFigures;
    const rate = onTimeOf(figures);
    cards.push(card("suggestionsOnTime", percent(rate === null ? null : 100 * rate), t("answeredOverdue", figures.answered, figures.overdue)));
  }
  if (state.checks) {
    const held = state.checks.reduce((sum, r) => sum + r.placesHeld, 0);
    const checked = state.checks.reduce((sum, r) => sum + r.checked, 0);
    cards.push(card("checkedChildFacing", percent(held ? (100 * checked) / held : null), t("placesHeld", held)));
  }
  root.querySelector(".cards").innerHTML = cards.join("");
}
