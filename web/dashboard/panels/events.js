// From a number to its events: for staff, the events behind a target's figure (ids, days and
// places, never a person), newest first. Viewers are never offered it, and the alliance
// service refuses it to them anyway.
import { schoolName } from "../figures.js";
import { named, number, t } from "../i18n.js";

// "org.tongxin.volunteers.volunteer-checked-out.v1" reads as "volunteers · volunteer-checked-out".
function shortType(type) {
  const parts = type.split(".");
  return parts.length >= 5 ? `${parts[2]} · ${parts[3]}` : type;
}

function place(state, event) {
  if (event.school) return schoolName(state, event.school);
  const district = state.city.districts.find((d) => d.code === event.district);
  return district ? named(district) : event.district || event.unit || "–";
}

export function render(root, state) {
  const shown = state.events;
  root.hidden = !shown;
  if (!shown) return;
  root.querySelector("h3").textContent = `${t("events")}: ${shown.title}`;
  root.querySelector(".note").textContent = shown.error
    ? t("loadFailed") + shown.error
    : shown.rows.length ? t("eventsShown", shown.rows.length) : t("noEvents");
  root.querySelector("thead").innerHTML = `<tr><th scope="col">${t("day")}</th><th scope="col">${t("eventType")}</th>` +
    `<th scope="col">${t("unit")}</th><th scope="col">${t("department")}</th><th scope="col" class="number">${t("quantity")}</th></tr>`;
  root.querySelector("tbody").innerHTML = (shown.rows ?? []).map((e) =>
    `<tr data-event="${e.eventKey}"><td>${e.day}</td><td>${shortType(e.eventType)}</td><td>${place(state, e)}</td>` +
    `<td>${e.department}</td><td class="number">${number(e.quantity, 2)}</td></tr>`).join("");
  root.querySelector("[data-action=close]").onclick = () => {
    state.events = null;
    render(root, state);
  };
}
