// Chinese first (the users are Chinese officials), English on request; the choice is kept.
const WORDS = {
  zh: {
    title: "教联体数据看板", headline: "核心指标", districts: "各区县志愿服务时长",
    districtsTable: "各区县数据", map: "全域育人地图", departments: "十三个部门", live: "实时动态",
    signIn: "登录", signInHint: "本机演示环境：选择身份登录（正式环境使用市统一身份认证）。",
    roleCoordinator: "领导小组工作人员（全部数据）", roleViewer: "公众查看（仅公开汇总）",
    enter: "进入看板", signOut: "退出", allDistricts: "全部区县",
    volunteerHours: "志愿服务时长（小时）", volunteersCredited: "记录时长的志愿者（人次）",
    schoolsWithVolunteers: "有志愿服务的学校", openPlaces: "待招募岗位名额",
    ofSchools: (n) => `全市共 ${n} 所学校`, upcomingShifts: (n) => `未来 ${n} 个班次`,
    district: "区县", school: "学校", hours: "时长（小时）", volunteers: "志愿者",
    department: "部门", role: "职责", services: "负责的平台服务", systems: "对接的部门系统",
    connected: "已连接，实时更新中", reconnecting: "连接中断，正在重连…",
    shiftChanged: (s) => `${s.school}「${s.title}」已报名 ${s.filled}/${s.capacity}`,
    asCoordinator: "领导小组工作人员", asViewer: "公众查看", noData: "暂无数据",
    signInFailed: "登录失败：", loadFailed: "数据加载失败：",
    targets: "重点任务目标", target: "目标", value: "当前值", threshold: "目标值",
    unitsMeeting: "达标单位", status: "状态", met: "已达标", notMet: "未达标",
    period: "考核周期", tasksLed: "牵头任务", tasksSupported: "配合任务",
    milestonesOnTime: "节点按时完成", targetsMet: "目标达标", asOf: "截至日期",
    asOfHint: "目标与考核按所选日期计算；留空为今天",
    homeVisitCoverage: "关爱对象家访覆盖率", target100: "目标 100%（每学年）",
    resourceUtilisation: "社会资源利用率", target80: (n) => `目标 80%，${n} 个场馆`,
    venue: "场馆", utilisation: "利用率",
    parentParticipation: "家长参与率", target90: (n) => `目标 90%，${n} 所学校有数据`,
    tenHaves: "达到“十有”标准的家长学校", ofParentSchools: (n) => `共 ${n} 所家长学校`,
    suggestionsOnTime: "建言按时答复率", answeredOverdue: (a, o) => `已答复 ${a} 条，逾期未答 ${o} 条`,
    checkedChildFacing: "涉童岗位志愿者背景审查", placesHeld: (n) => `未来涉童岗位 ${n} 个名额`,
    courses: "家长学校与家长参与", enrolled: "在册家长", active: "参与家长", rate: "参与率",
    parentSchools: "家长学校", meetingTenHaves: "达“十有”标准",
    committees: "家委会与建言献策", answered: "已答复", onTime: "按时答复", overdue: "逾期未答",
    escalated: "升级办理", medianDays: "答复天数中位数", satisfied: "满意率（4–5 分）",
    events: "构成该数值的事件", showEvents: (title) => `查看「${title}」的明细事件`,
    eventType: "事件类型", day: "日期", unit: "单位", quantity: "计入量", close: "关闭",
    noEvents: "该期间没有事件", eventsShown: (n) => `最近 ${n} 条（不含个人信息）`,
  },
  en: {
    title: "Education Alliance Dashboard", headline: "Headline figures",
    districts: "Volunteer hours by district", districtsTable: "Figures by district",
    map: "City-wide learning map", departments: "The thirteen departments", live: "Live",
    signIn: "Sign in", signInHint: "Local demo: choose who you are (production signs in with the city's identity provider).",
    roleCoordinator: "Leading group staff (every figure)", roleViewer: "Public viewer (published totals only)",
    enter: "Open the dashboard", signOut: "Sign out", allDistricts: "All districts",
    volunteerHours: "Volunteer hours", volunteersCredited: "Volunteers credited",
    schoolsWithVolunteers: "Schools with volunteers", openPlaces: "Places still open",
    ofSchools: (n) => `of ${n} schools in the city`, upcomingShifts: (n) => `on ${n} upcoming shifts`,
    district: "District", school: "School", hours: "Hours", volunteers: "Volunteers",
    department: "Department", role: "Role", services: "Services it owns", systems: "Its own systems",
    connected: "Connected: updates arrive live", reconnecting: "Connection lost, reconnecting…",
    shiftChanged: (s) => `${s.school} “${s.title}”: ${s.filled}/${s.capacity} places taken`,
    asCoordinator: "Leading group staff", asViewer: "Public viewer", noData: "No data yet",
    signInFailed: "Sign-in failed: ", loadFailed: "Could not load the figures: ",
    targets: "Key tasks' targets", target: "Target", value: "Value", threshold: "Threshold",
    unitsMeeting: "Units meeting it", status: "Status", met: "Met", notMet: "Not met",
    period: "Assessment period", tasksLed: "Tasks led", tasksSupported: "Tasks supported",
    milestonesOnTime: "Milestones on time", targetsMet: "Targets met", asOf: "As of",
    asOfHint: "Targets and scorecards as of the chosen day; empty for today",
    homeVisitCoverage: "Home visits to families in care", target100: "target 100% each school year",
    resourceUtilisation: "Community resource utilisation", target80: (n) => `target 80%, ${n} venues`,
    venue: "Venue", utilisation: "Utilisation",
    parentParticipation: "Parent participation", target90: (n) => `target 90%, ${n} schools with figures`,
    tenHaves: "Parent schools meeting the ten haves", ofParentSchools: (n) => `of ${n} parent schools`,
    suggestionsOnTime: "Suggestions answered on time", answeredOverdue: (a, o) => `${a} answered, ${o} overdue`,
    checkedChildFacing: "Background-checked volunteers on child-facing posts", placesHeld: (n) => `${n} places on upcoming child-facing shifts`,
    courses: "Parent schools and participation", enrolled: "Parents enrolled", active: "Parents taking part", rate: "Rate",
    parentSchools: "Parent schools", meetingTenHaves: "Meeting the ten haves",
    committees: "Committees and suggestions", answered: "Answered", onTime: "On time", overdue: "Overdue",
    escalated: "Escalated", medianDays: "Median days to answer", satisfied: "Satisfied (rated 4–5)",
    events: "The events behind this figure", showEvents: (title) => `Show the events behind “${title}”`,
    eventType: "Event type", day: "Day", unit: "Unit", quantity: "Adds", close: "Close",
    noEvents: "No events in the period", eventsShown: (n) => `The latest ${n} (no personal data)`,
  },
};

let language = localStorage.getItem("tongxin.language") === "en" ? "en" : "zh";

export function lang() { return language; }

export function t(key, ...args) {
  const word = WORDS[language][key] ?? WORDS.zh[key] ?? key;
  return typeof word === "function" ? word(...args) : word;
}

export function setLanguage(next) {
  language = next;
  localStorage.setItem("tongxin.language", next);
  document.documentElement.lang = next === "en" ? "en" : "zh-CN";
  document.title = `${t("title")} · Tongxin`;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}

// A number as people read it in the chosen language.
export function number(value, digits = 0) {
  return new Intl.NumberFormat(language === "en" ? "en" : "zh-CN", {
    maximumFractionDigits: digits,
  }).format(value);
}

// A count of people as GraphQL gives it: the number, its suppression mark ("<5"), or a
// sum of the shown ones marked "+" when some were suppressed ("—" when none was shown).
export function people(count) {
  if (count.value === null) return count.suppressed;
  if (count.partial) return count.value === 0 ? "—" : `${number(count.value)}+`;
  return number(count.value);
}

// Names shown in the chosen language (the gateway gives both).
export function named(item) {
  return language === "en" && item.nameEn ? item.nameEn : item.name;
}
