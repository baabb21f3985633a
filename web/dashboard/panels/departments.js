// A row per department: what it does, its assessment scorecard for the period (tasks led and
// supported, milestones on time, targets met), the services it owns and its own systems.
import { named, t } from "../i18n.js";

const ratio = (done, all) => (all ? `${done}/${all}` : "–");

export function render(root, state) {
  const cards = new Map((state.alliance?.allianceScorecards?.scorecards ?? []).map((c) => [c.department, c]));
  const period = state.alliance?.allianceScorecards?.period;
  root.querySelector(".period").textContent = period ? `${t("period")}: ${period}` : "";
  root.querySelector("thead").innerHTML = `<tr><th scope="col">${t("department")}</th>` +
    `<th scope="col" class="number">${t("tasksLed")}</th><th scope="col" class="number">${t("tasksSupported")}</th>` +
    `<th scope="col" class="number">${t("milestonesOnTime")}</th><th scope="col" class="number">${t("targetsMet")}</th>` +
    `<th scope="col">${t("role")}</th><th scope="col">${t("services")}</th></tr>`;
  root.querySelector("tbody").innerHTML = state.departments.map((d) => {
    const card = cards.get(d.code);
    return `<tr data-row="${d.code}"><th scope="row">${named(d)}</th>` +
      `<td class="number" data-figure="tasksLed">${card?.tasksLed ?? "–"}</td>` +
      `<td class="number">${card?.tasksSupported ?? "–"}</td>` +
      `<td class="number" data-figure="milestones">${card ? ratio(card.milestonesOnTime, card.milestonesDue) : "–"}</td>` +
      `<td class="number" data-figure="targetsMet">${card ? ratio(card.targetsMet, card.targets) : "–"}</td>` +
      `<td>${d.role}</td><td>${[...d.services, ...d.systems].join(", ")}</td></tr>`;
  }).join("");
}
