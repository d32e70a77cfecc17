// The audit log: filters, newest first, a page at a time (keyset cursor), and the CSV export
// of every event the filters match. Dates are the operator's own days (local midnight to midnight).
import { api, el, setStatus } from "./api.js";
import { _, formatDateTime } from "./i18n.js";

const form = document.querySelector("[data-filters]");
const table = document.querySelector("[data-table]");
const body = table.querySelector("tbody");
const next = document.querySelector("[data-next]");
const first = document.querySelector("[data-first]");
const exportLink = document.querySelector("[data-export]");
let cursor = null;

// The start of a local day as an ISO time (the API takes any offset).
function dayStart(value, plusDays = 0) {
  const [year, month, day] = value.split("-").map(Number);
  return new Date(year, month - 1, day + plusDays).toISOString();
}

function filters() {
  const params = new URLSearchParams();
  for (const [name, raw] of new FormData(form)) {
    const value = String(raw).trim();
    if (!value) continue;
    if (name === "from") params.set("from", dayStart(value));
    else if (name === "to") params.set("to", dayStart(value, 1));
    else params.set(name, value);
  }
  return params;
}

function details(event) {
  const text = JSON.stringify(event.details || {});
  return text === "{}" ? "" : text;
}

async function load(fromCursor = null) {
  const params = filters();
  exportLink.href = `/api/v1/audit-events.csv?${params}`;
  params.set("limit", "50");
  if (fromCursor) params.set("cursor", fromCursor);
  setStatus(_("Loading…"));
  try {
    const page = await api(`/api/v1/audit-events?${params}`, { retries: 2 });
    body.replaceChildren();
    for (const event of page.events) {
      const actor = event.actor_id === null ? _("system") : `${event.actor_name || ""} (#${event.actor_id})`;
      body.append(
        el(
          "tr",
          { "data-testid": "audit-row" },
          el("td", {}, el("time", { datetime: event.at, text: formatDateTime(event.at) })),
          el("td", { text: actor }),
          el("td", { text: event.actor_role || "" }),
          el("td", {}, el("code", { text: event.action })),
          el("td", { text: `${event.target_type} ${event.target_id}` }),
          el("td", {}, el("code", { text: details(event) })),
          el("td", { text: event.remote_addr || "" }),
        ),
      );
    }
    table.hidden = page.events.length === 0;
    cursor = page.next_cursor;
    next.hidden = !cursor;
    first.hidden = !fromCursor;
    setStatus(page.events.length ? "" : _("No events match."));
  } catch (error) {
    setStatus(error.message, "error");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
next.addEventListener("click", () => load(cursor));
first.addEventListener("click", () => load());
load();
