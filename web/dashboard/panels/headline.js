// The figures the leading group reads first, each with what it is out of.
import { sumOfPeople } from "../figures.js";
import { number, people, t } from "../i18n.js";

function card(key, value, note) {
  return `<div class="card" role="listitem"><div class="value" data-figure="${key}">${value}</div>` +
    `<div class="label">${t(key)}</div><div class="note">${note ?? ""}</div></div>`;
}

export function render(root, state) {
  const hours = state.hours.reduce((sum, row) => sum + row.hours, 0);
  const credited = sumOfPeople(state.hours.map((row) => row.volunteers));
  const schools = new Set(state.hours.filter((row) => row.hours > 0).map((row) => row.schoolId));
  const upcoming = state.shifts.filter((shift) => new Date(shift.startsAt) > new Date());
  const open = upcoming.reduce((sum, shift) => sum + shift.placesLeft, 0);
  root.querySelector(".cards").innerHTML = [
    card("volunteerHours", number(hours, 1)),
    card("volunteersCredited", people(credited)),
    card("schoolsWithVolunteers", number(schools.size), t("ofSchools", state.schools.size)),
    card("openPlaces", number(open), t("upcomingShifts", upcoming.length)),
  ].join("");
}
