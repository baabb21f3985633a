// Each district's figure, and a click on a district (bar or row) opens its schools.
import { draw } from "../charts.js";
import { byDistrict, bySchool } from "../figures.js";
import { named, number, people, t } from "../i18n.js";

let chart = null;
let selected = null;

export function render(root, state) {
  const up = root.querySelector("[data-action=up]");
  up.hidden = selected === null;
  up.onclick = () => { selected = null; render(root, state); };
  const rows = selected === null
    ? byDistrict(state).map((r) => ({ key: r.district.code, name: named(r.district), hours: r.hours, volunteers: r.volunteers }))
    : bySchool(state, selected).map((r) => ({ key: r.school.id, name: named(r.school), hours: r.hours, volunteers: r.volunteers }));
  const district = state.city.districts.find((d) => d.code === selected);
  root.querySelector(".where").textContent = district ? named(district) : "";
  const box = root.querySelector(".chart");
  draw(box, () => {
    chart ??= echarts.init(box);
    chart.setOption({
      grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: rows.map((r) => r.name), inverse: true },
      series: [{ type: "bar", data: rows.map((r) => r.hours), itemStyle: { color: "#b4232a" } }],
    }, true);
    chart.off("click");
    if (selected === null) {
      chart.on("click", (event) => { selected = rows[event.dataIndex].key; render(root, state); });
    }
  });
  root.querySelector(".chart").setAttribute("aria-label", rows.map((r) => `${r.name} ${number(r.hours, 1)}`).join(", "));
  const head = selected === null ? t("district") : t("school");
  root.querySelector("thead").innerHTML =
    `<tr><th scope="col">${head}</th><th scope="col" class="number">${t("hours")}</th><th scope="col" class="number">${t("volunteers")}</th></tr>`;
  root.querySelector("tbody").innerHTML = rows.map((r) => {
    const name = selected === null
      ? `<button type="button" class="link" data-district="${r.key}">${r.name}</button>` : r.name;
    return `<tr data-row="${r.key}"><th scope="row">${name}</th><td class="number" data-figure="hours">${number(r.hours, 1)}</td>` +
      `<td class="number" data-figure="volunteers">${people(r.volunteers)}</td></tr>`;
  }).join("");
  for (const button of root.querySelectorAll("[data-district]")) {
    button.onclick = () => { selected = button.dataset.district; render(root, state); };
  }
}

