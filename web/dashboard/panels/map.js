// The city's districts drawn from their real boundaries (the pinned GeoJSON the gateway
// serves), shaded by the district figure; venues join the map as the resources service
// publishes them.
import { byDistrict } from "../figures.js";
import { named, number, t } from "../i18n.js";

let chart = null;

export async function load() {
  const response = await fetch("/dashboard/map.geojson");
  if (!response.ok) throw new Error(`map: ${response.status}`);
  echarts.registerMap("city", await response.json());
}

export function render(root, state) {
  chart ??= echarts.init(root.querySelector(".chart"));
  const rows = byDistrict(state);
  const most = Math.max(1, ...rows.map((r) => r.hours));
  chart.setOption({
    tooltip: {
      trigger: "item",
      formatter: (p) => `${p.data?.label ?? p.name}<br>${t("volunteerHours")}: ${number(p.value || 0, 1)}`,
    },
    visualMap: { min: 0, max: most, left: 8, bottom: 8, inRange: { color: ["#fde8e8", "#b4232a"] }, calculable: false },
    series: [{
      type: "map", map: "city", roam: true, label: { show: true, fontSize: 11 },
      data: rows.map((r) => ({ name: r.district.name, label: named(r.district), value: r.hours })),
    }],
  }, true);
  root.querySelector(".chart").setAttribute(
    "aria-label", rows.map((r) => `${named(r.district)} ${number(r.hours, 1)}`).join(", "),
  );
}

export function resize() { chart?.resize(); }
