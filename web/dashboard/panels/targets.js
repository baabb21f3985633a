// The alliance's targets: each figure against its threshold, how many districts or schools
// meet it, and (on a click) the figure of each of them.
import { draw } from "../charts.js";
import { named, number, t } from "../i18n.js";

let chart = null;
let selected = null;

function shown(value, metric) {
  if (value === null || value === undefined) return "–";
  return metric === "share" || metric === "coverage" || metric === "rate"
    ? `${number(value, 1)}%` : number(value, 1);
}

function groupName(state, group) {
  if (group === "city") return state.city ? named(state.city) : group;
  const district = state.city.districts.find((d) => d.code === group);
  if (district) return named(district);
  const school = state.schools.get(group);
  if (school) return named(school);
  const department = state.departments.find((d) => d.code === group);
  return department ? named(department) : group;
}

// Staff open the events behind a value; viewers read the value alone.
function value(state, target) {
  const text = shown(target.value, target.metric);
  if (!state.onEvents) return text;
  return `<button type="button" class="link" data-events="${target.id}" ` +
    `aria-label="${t("showEvents", target.title)}: ${text}">${text}</button>`;
}

export function render(root, state) {
  const targets = state.alliance?.allianceTargets ?? [];
  root.querySelector("thead").innerHTML = `<tr><th scope="col">${t("target")}</th>` +
    `<th scope="col" class="number">${t("value")}</th><th scope="col" class="number">${t("threshold")}</th>` +
    `<th scope="col" class="number">${t("unitsMeeting")}</th><th scope="col">${t("status")}</th></tr>`;
  root.querySelector("tbody").innerHTML = targets.map((target) => {
    const status = target.met ? t("met") : t("notMet");
    return `<tr data-row="${target.id}"><th scope="row"><button type="button" class="link" data-target="${target.id}">${target.title}</button></th>` +
      `<td class="number" data-figure="value">${value(state, target)}</td>` +
      `<td class="number">${shown(target.threshold, target.metric)}</td>` +
      `<td class="number" data-figure="groupsMet">${target.groupsMet ?? 0}/${target.groups.length}</td>` +
      `<td class="${target.met ? "met" : "not-met"}">${status}</td></tr>`;
  }).join("");
  for (const button of root.querySelectorAll("[data-target]")) {
    button.onclick = () => { selected = button.dataset.target; render(root, state); };
  }
  for (const button of root.querySelectorAll("[data-events]")) {
    button.onclick = () => state.onEvents(targets.find((x) => x.id === button.dataset.events));
  }
  const target = targets.find((x) => x.id === selected) ?? targets[0];
  const box = root.querySelector(".chart");
  if (!target) { box.hidden = true; return; }
  box.hidden = false;
  const groups = target.groups.map((g) => ({ ...g, name: groupName(state, g.group) }));
  root.querySelector(".chosen").textContent = target.title;
  root.querySelector(".chosen").dataset.target = target.id;
  draw(box, () => {
    chart ??= echarts.init(box);
    chart.setOption({
      grid: { left: 8, right: 48, top: 24, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: groups.map((g) => g.name), axisLabel: { interval: 0, rotate: groups.length > 6 ? 30 : 0 } },
      yAxis: { type: "value" },
      series: [{
        type: "bar",
        data: groups.map((g) => ({
          value: g.suppressed ? null : g.value,
          itemStyle: { color: g.met ? "#126b3a" : "#b4232a" },
        })),
        label: { show: true, position: "top", formatter: (p) => groups[p.dataIndex].suppressed ?? shown(p.value, target.metric) },
        markLine: { symbol: "none", data: [{ yAxis: target.threshold, name: t("threshold") }], lineStyle: { type: "dashed" } },
      }],
    }, true);
  });
  box.setAttribute("aria-label", groups.map((g) => `${g.name} ${g.suppressed ?? shown(g.value, target.metric)}`).join(", "));
}

