// A moment from the API (ISO 8601, UTC) in the reader's own time zone and language.
const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function when(iso: string | null): string {
  if (iso === null || iso === "") return "—";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? iso : WHEN.format(moment);
}
