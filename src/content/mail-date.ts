// The Date header's date-time (RFC 5322 §3.3, obsolete forms of §4.3 included): an optional day
// of the week, day, month name, year (2 digits: 19xx from 50, else 20xx; 3 digits: + 1900), time
// with optional seconds, and a zone: +hhmm/-hhmm, UT, GMT, the US zone names, or any other
// alphabetic name, read as UTC as RFC 5322 says of unknown zones. A missing zone is read as UTC
// too. Comments in parentheses are ignored. Anything else, or an impossible date (31 Feb), is
// undefined: no guessing with Date.parse, which accepts much that no mail program writes.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** US zone names of RFC 5322 §4.3, in minutes east of UTC. */
const ZONE_OFFSETS_MINUTES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};
const MINUTE_MS = 60_000;

const DATE_TIME =
  /^(?:[a-z]{3}[a-z]*\s*,?\s*)?(\d{1,2})\s*-?\s*([a-z]{3})[a-z]*\.?\s*-?\s*(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([+-])(\d{2})(\d{2})|([a-z]{1,5}))?$/i;

/** Milliseconds since the epoch of a Date header value, or undefined when it is not a date. */
export function parseMailDate(value: string): number | undefined {
  const text = value.replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, dayText, monthText, yearText, hourText, minuteText, secondText, sign, zoneHours, zoneMinutes, zoneName] = match;
  const month = MONTHS.indexOf(monthText!.toLowerCase());
  if (month < 0) return undefined;
  let year = Number(yearText);
  if (yearText!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (yearText!.length === 3) year += 1900;
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = secondText === undefined ? 0 : Number(secondText);
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return undefined;
  const utc = Date.UTC(year, month, day, hour, minute, second);
  let offsetMinutes = 0;
  if (sign !== undefined) {
    if (Number(zoneMinutes) > 59) return undefined;
    offsetMinutes = (sign === '-' ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes));
  } else if (zoneName !== undefined) {
    offsetMinutes = ZONE_OFFSETS_MINUTES[zoneName.toLowerCase()] ?? 0;
  }
  return utc - offsetMinutes * MINUTE_MS;
}
