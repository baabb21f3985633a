// A row per department: what it does, the services it owns and its own systems.
import { named, t } from "../i18n.js";

export function render(root, state) {
  root.querySelector("thead").innerHTML = `<tr><th scope="col">${t("department")}</th>` +
    `<th scope="col">${t("role")}</th><th scope="col">${t("services")}</th><th scope="col">${t("systems")}</th></tr>`;
  root.querySelector("tbody").innerHTML = state.departments.map((d) =>
    `<tr data-row="${d.code}"><th scope="row">${named(d)}</th><td>${d.role}</td>` +
    `<td>${d.services.join(", ")}</td><td>${d.systems.join(", ")}</td></tr>`).join("");
}
