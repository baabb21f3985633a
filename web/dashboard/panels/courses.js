// Parent schools and parents taking part: each district's participation against the 90%
// target and its parent schools meeting the "ten haves"; a district opens its schools.
import { schoolName, sumOfPeople } from "../figures.js";
import { named, number, people, t } from "../i18n.js";

let selected = null;

const percent = (value) => (value === null ? "—" : `${number(100 * value, 1)}%`);

// A rate of two summed counts, over the rows where both are shown (a hidden cell is never
// guessed at); null when none is.
export function rateOf(rows) {
  let active = 0;
  let enrolled = 0;
  for (const row of rows) {
    if (row.active.value === null || row.enrolled.value === null) continue;
    active += row.active.value;
    enrolled += row.enrolled.value;
  }
  return enrolled ? active / enrolled : null;
}

export function standardOf(rows) {
  const schools = rows.reduce((sum, r) => sum + r.schools, 0);
  const meeting = rows.reduce((sum, r) => sum + r.meeting, 0);
  return { schools, meeting, share: schools ? meeting / schools : null };
}

function districtRows(state) {
  const participation = state.participation ?? [];
  const standard = state.parentSchools?.parentSchoolStandard ?? [];
  return state.city.districts.map((district) => {
    const rows = participation.filter((r) => r.district === district.code);
    return {
      key: district.code, name: named(district),
      enrolled: sumOfPeople(rows.map((r) => r.enrolled)), active: sumOfPeople(rows.map((r) => r.active)),
      rate: rateOf(rows), standard: standardOf(standard.filter((r) => r.district === district.code)),
    };
  });
}

function schoolRows(state, code) {
  return (state.participation ?? []).filter((r) => r.district === code).map((r) => ({
    key: r.schoolId, name: schoolName(state, r.schoolId), enrolled: r.enrolled, active: r.active,
    rate: r.rate, standard: null,
  }));
}

export function render(root, state) {
  root.hidden = !state.participation && !state.parentSchools;
  if (root.hidden) return;
  const up = root.querySelector("[data-action=up]");
  up.hidden = selected === null;
  up.onclick = () => { selected = null; render(root, state); };
  const district = state.city.districts.find((d) => d.code === selected);
  root.querySelector(".where").textContent = district ? named(district) : "";
  const rows = selected === null ? districtRows(state) : schoolRows(state, selected);
  root.querySelector("thead").innerHTML = `<tr><th scope="col">${t(selected === null ? "district" : "school")}</th>` +
    `<th scope="col" class="number">${t("enrolled")}</th><th scope="col" class="number">${t("active")}</th>` +
    `<th scope="col" class="number">${t("rate")}</th>` +
    (selected === null ? `<th scope="col" class="number">${t("meetingTenHaves")}</th>` : "") + "</tr>";
  root.querySelector("tbody").innerHTML = rows.map((r) => {
    const name = selected === null
      ? `<button type="button" class="link" data-district="${r.key}">${r.name}</button>` : r.name;
    const standard = r.standard
      ? `<td class="number" data-figure="tenHaves">${r.standard.meeting}/${r.standard.schools}</td>` : "";
    return `<tr data-row="${r.key}"><th scope="row">${name}</th>` +
      `<td class="number" data-figure="enrolled">${people(r.enrolled)}</td>` +
      `<td class="number" data-figure="active">${people(r.active)}</td>` +
      `<td class="number" data-figure="rate">${percent(r.rate)}</td>${standard}</tr>`;
  }).join("");
  for (const button of root.querySelectorAll("[data-district]")) {
    button.onclick = () => { selected = button.dataset.district; render(root, state); };
  }
}
