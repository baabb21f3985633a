// The learning map: the city's districts drawn from their real boundaries (the pinned
// GeoJSON the gateway serves), shaded by volunteer hours, with every venue the resources
// service lists as a point coloured by its kind and sized by its utilisation.
import { draw } from "../charts.js";
import { byDistrict } from "../figures.js";
import { named, number, t } from "../i18n.js";

let chart = null;

const KIND_COLOURS = {
  MUSEUM: "#1d4ed8", SCIENCE_MUSEUM: "#0e7490", LIBRARY: "#7c3aed", UNIVERSITY: "#9d174d",
  ENTERPRISE: "#92400e", HOSPITAL: "#be123c", POLICE_STATION: "#1e3a8a", COMMUNITY_CENTRE: "#15803d",
  MEMORIAL: "#374151", HERITAGE_SITE: "#a16207", SCHOOL_FACILITY: "#0f766e",
};

export async function load() {
  const response = await fetch("/dashboard/map.geojson");
  if (!response.ok) throw new Error(`map: ${response.status}`);
  echarts.registerMap("city", await response.json());
}

function venuePoints(state) {
  return (state.venues?.learningMap ?? []).map((venue) => {
    const rate = venue.utilisation?.rate ?? 0;
    return {
      name: venue.name,
      value: [...venue.geometry.coordinates, rate],
      kind: venue.kind,
      symbolSize: 8 + Math.min(1, rate) * 16,
      itemStyle: { color: KIND_COLOURS[venue.kind] ?? "#111827" },
    };
  });
}

export function render(root, state) {
  const box = root.querySelector(".chart");
  const rows = byDistrict(state);
  const most = Math.max(1, ...rows.map((r) => r.hours));
  const venues = venuePoints(state);
  draw(box, () => {
    chart ??= echarts.init(box);
    chart.setOption({
      tooltip: {
        trigger: "item",
        formatter: (p) => (p.seriesType === "scatter"
          ? `${p.name}<br>${t("utilisation")}: ${number(100 * p.value[2], 0)}%`
          : `${p.data?.label ?? p.name}<br>${t("volunteerHours")}: ${number(p.value || 0, 1)}`),
      },
      geo: { map: "city", roam: true, label: { show: true, fontSize: 11 }, itemStyle: { borderColor: "#9ca3af" } },
      visualMap: {
        min: 0, max: most, left: 8, bottom: 8, seriesIndex: 0, calculable: false,
        inRange: { color: ["#fde8e8", "#f3a5a5"] },
      },
      series: [
        {
          type: "map", geoIndex: 0,
          data: rows.map((r) => ({ name: r.district.name, label: named(r.district), value: r.hours })),
        },
        { type: "scatter", coordinateSystem: "geo", data: venues, zlevel: 1 },
      ],
    }, true);
  });
  root.querySelector(".chart").setAttribute(
    "aria-label",
    [
      ...rows.map((r) => `${named(r.district)} ${number(r.hours, 1)}`),
      ...venues.map((v) => `${v.name} ${number(100 * v.value[2], 0)}%`),
    ].join(", "),
  );
  root.querySelector(".chart").dataset.venues = String(venues.length);
}

