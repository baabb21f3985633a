// The city dashboard: sign in, read the figures through GraphQL, keep them live.
import { schoolIndex } from "./figures.js";
import { Gateway } from "./graphql.js";
import { lang, setLanguage, t } from "./i18n.js";
import * as committees from "./panels/committees.js";
import * as courses from "./panels/courses.js";
import * as departments from "./panels/departments.js";
import * as districts from "./panels/districts.js";
import * as events from "./panels/events.js";
import * as headline from "./panels/headline.js";
import * as live from "./panels/live.js";
import * as map from "./panels/map.js";
import * as session from "./session.js";
import * as targets from "./panels/targets.js";

const $ = (selector) => document.querySelector(selector);
const state = {
  city: null, schools: new Map(), departments: [], hours: [], openPlaces: null, alliance: null, asOf: null,
  venues: null, coverage: null, participation: null, parentSchools: null, committees: null, checks: null,
  events: null, onEvents: null,
};

function drawAll() {
  headline.render($("#headline"), state);
  districts.render($("#districts"), state);
  map.render($("#map"), state);
  targets.render($("#targets"), state);
  events.render($("#targets .events"), state);
  courses.render($("#courses"), state);
  committees.render($("#committees"), state);
  departments.render($("#departments"), state);
}

// Targets and scorecards as of the chosen day (the alliance answers from the events up to it).
// Figures of one service; when it is away its panels show nothing and the rest still draw.
async function optional(load) {
  try {
    return await load();
  } catch {
    return null;
  }
}

async function refreshServices(gateway) {
  const [venues, coverage, participation, parentSchools, committeeFigures, checks] = await Promise.all([
    optional(() => gateway.query("venues")),
    optional(() => gateway.all("care-coverage", "careCoverage")),
    optional(() => gateway.all("participation", "participation")),
    optional(() => gateway.query("parent-schools")),
    optional(() => gateway.query("committee-figures")),
    optional(async () => (await gateway.query("child-facing-checks")).childFacingChecks),
  ]);
  Object.assign(state, { venues, coverage, participation, parentSchools, committees: committeeFigures, checks });
}

// A panel whose service is away says so; the others still draw.
async function refreshAlliance(gateway) {
  try {
    state.alliance = await gateway.query("alliance", { asOf: state.asOf });
    $("#targets .chosen").textContent = "";
  } catch (error) {
    state.alliance = null;
    $("#targets .chosen").textContent = t("loadFailed") + error.message;
  }
}

// The events behind a target's figure, for staff: the alliance service decides (as the caller).
async function showEvents(gateway, target) {
  state.events = { title: target.title, rows: [] };
  try {
    const data = await gateway.query("contributions", { targetId: target.id, asOf: state.asOf });
    state.events.rows = data.allianceContributions;
  } catch (error) {
    state.events.error = error.message;
  }
  events.render($("#targets .events"), state);
  $("#targets .events").focus();
}

async function refreshHours(gateway) {
  state.hours = await gateway.all("school-hours", "schoolHours");
}

async function refreshOpenPlaces(gateway) {
  state.openPlaces = (await gateway.query("open-places")).openPlaces;
}

async function start(current) {
  const gateway = new Gateway(current.token);
  $("#who").textContent = t(current.role === "viewer" ? "asViewer" : "asCoordinator");
  $("#sign-out").hidden = false;
  $("#board").hidden = false;
  if (current.role !== "viewer") state.onEvents = (target) => showEvents(gateway, target);
  const [reference] = await Promise.all([gateway.query("city"), map.load()]);
  state.city = reference.city;
  state.departments = reference.departments;
  state.schools = schoolIndex(state.city);
  $("#city-name").textContent = lang() === "en" ? state.city.nameEn : state.city.name;
  await Promise.all([
    refreshHours(gateway), refreshOpenPlaces(gateway), refreshAlliance(gateway),
    refreshServices(gateway),
  ]);
  drawAll();
  document.body.dataset.ready = "true";
  performance.mark("tongxin:drawn"); // every panel drawn: the bench reads it

  $("#as-of").max = new Date().toISOString().slice(0, 10);
  $("#as-of").onchange = async (event) => {
    state.asOf = event.target.value || null;
    state.events = null; // They were of the day before.
    document.body.dataset.ready = "false";
    await refreshAlliance(gateway);
    drawAll();
    document.body.dataset.ready = "true";
  };
  let moved = null;
  gateway.subscribe("target-moved", {}, {
    onData: () => {
      if (state.asOf) return; // a past day's figures do not move
      clearTimeout(moved);
      moved = setTimeout(async () => { await refreshAlliance(gateway); drawAll(); }, 300);
    },
  });

  let pending = null;
  gateway.subscribe("shift-changed", {}, {
    onStatus: (connected) => live.status($("#live"), connected),
    onData: ({ shiftChanged }) => {
      live.add($("#live"), state, shiftChanged);
      // Hours follow check-outs and open places sign-ups; one re-read for a burst of changes.
      clearTimeout(pending);
      pending = setTimeout(async () => {
        await Promise.all([refreshHours(gateway), refreshOpenPlaces(gateway)]);
        drawAll();
      }, 300);
    },
  });
}

function askToSignIn() {
  const dialog = $("#sign-in");
  dialog.querySelector("form").onsubmit = async (event) => {
    event.preventDefault();
    const role = new FormData(event.target).get("role");
    try {
      const current = await session.signIn(role);
      dialog.close();
      await start(current);
    } catch (error) {
      dialog.querySelector(".error").textContent = t("signInFailed") + error.message;
    }
  };
  dialog.showModal();
}

function main() {
  setLanguage(lang());
  $("#language").textContent = lang() === "en" ? "中文" : "English";
  $("#language").onclick = () => {
    setLanguage(lang() === "en" ? "zh" : "en");
    $("#language").textContent = lang() === "en" ? "中文" : "English";
    if (state.city) {
      $("#city-name").textContent = lang() === "en" ? state.city.nameEn : state.city.name;
      drawAll();
    }
  };
  $("#sign-out").onclick = () => { session.signOut(); location.reload(); };
  const current = session.current();
  if (current) {
    start(current).catch((error) => { $("#live .status").textContent = t("loadFailed") + error.message; });
  } else {
    askToSignIn();
  }
}

main();
