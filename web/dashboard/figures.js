// What several panels compute from the same data: the city's names and totals by place.
import { named } from "./i18n.js";

export function schoolIndex(city) {
  const schools = new Map();
  for (const district of city.districts) {
    for (const school of district.schools) schools.set(school.id, { ...school, district });
  }
  return schools;
}

export function schoolName(state, schoolId) {
  const school = state.schools.get(schoolId);
  return school ? named(school) : schoolId;
}

// A sum of counts of people: the shown ones added up; `partial` when some were suppressed,
// so the sum is "at least" (a suppressed count is never guessed at, nor worked out).
export function sumOfPeople(counts) {
  const total = { value: 0, suppressed: null, partial: false };
  for (const count of counts) {
    if (count.value === null) total.partial = true;
    else total.value += count.value;
  }
  return total;
}

// Hours and volunteers per district; a school the city list does not know is left out of
// the districts (and said so by the table's total) rather than guessed.
export function byDistrict(state) {
  const rows = new Map(state.city.districts.map((d) => [d.code, { district: d, hours: 0, counts: [] }]));
  for (const row of state.hours) {
    const school = state.schools.get(row.schoolId);
    if (!school) continue;
    const entry = rows.get(school.district.code);
    entry.hours += row.hours;
    entry.counts.push(row.volunteers);
  }
  return [...rows.values()].map(({ district, hours, counts }) => ({ district, hours, volunteers: sumOfPeople(counts) }));
}

export function bySchool(state, districtCode) {
  const hours = new Map(state.hours.map((row) => [row.schoolId, row]));
  const district = state.city.districts.find((d) => d.code === districtCode);
  return district.schools.map((school) => ({
    school,
    hours: hours.get(school.id)?.hours ?? 0,
    // No hours there: no one credited, and zero is a small count like any under five.
    volunteers: hours.get(school.id)?.volunteers ?? { value: null, suppressed: "<5" },
  }));
}
