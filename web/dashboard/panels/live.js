// What is happening now, newest first; the other panels redraw from the same changes.
import { schoolName } from "../figures.js";
import { t } from "../i18n.js";

const KEEP = 50;

export function status(root, connected) {
  root.querySelector(".status").textContent = t(connected ? "connected" : "reconnecting");
}

export function add(root, state, shift) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString();
  item.append(time, t("shiftChanged", {
    school: schoolName(state, shift.schoolId), title: shift.title,
    filled: shift.placesFilled, capacity: shift.capacity,
  }));
  item.dataset.shift = shift.id;
  const feed = root.querySelector(".feed");
  feed.prepend(item);
  while (feed.children.length > KEEP) feed.lastElementChild.remove();
}
