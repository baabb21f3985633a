// Suggestions from parent committees: how many were answered, how many on time (the 15
// working days of the service level), per department; overdue and escalated ones.
import { named, number, t } from "../i18n.js";

const percent = (value) => (value === null || value === undefined ? "—" : `${number(100 * value, 1)}%`);

// On time over every department (edu answers for the schools).
export function onTimeOf(figures) {
  const rows = figures?.onTimeByDepartment ?? [];
  const answered = rows.reduce((sum, r) => sum + r.answered, 0);
  const onTime = rows.reduce((sum, r) => sum + r.onTime, 0);
  return answered ? onTime / answered : null;
}

function departmentName(state, code) {
  const department = state.departments.find((d) => d.code === code);
  return department ? named(department) : code;
}

export function render(root, state) {
  const figures = state.committees?.committeeFigures;
  root.hidden = !figures;
  if (!figures) return;
  const facts = [
    ["answered", number(figures.answered)],
    ["onTime", percent(onTimeOf(figures))],
    ["overdue", number(figures.overdue)],
    ["escalated", number(figures.escalated)],
    ["medianDays", figures.medianDaysToAnswer === null ? "—" : number(figures.medianDaysToAnswer, 1)],
    ["satisfied", percent(figures.satisfiedShare)],
  ];
  root.querySelector(".facts").innerHTML = facts.map(([key, value]) =>
    `<div><dt>${t(key)}</dt><dd data-figure="${key}">${value}</dd></div>`).join("");
  root.querySelector("thead").innerHTML = `<tr><th scope="col">${t("department")}</th>` +
    `<th scope="col" class="number">${t("answered")}</th><th scope="col" class="number">${t("onTime")}</th>` +
    `<th scope="col" class="number">${t("rate")}</th></tr>`;
  root.querySelector("tbody").innerHTML = figures.onTimeByDepartment.map((r) =>
    `<tr data-row="${r.key}"><th scope="row">${departmentName(state, r.key)}</th>` +
    `<td class="number">${number(r.answered)}</td><td class="number">${number(r.onTime)}</td>` +
    `<td class="number" data-figure="rate">${percent(r.rate)}</td></tr>`).join("");
}
