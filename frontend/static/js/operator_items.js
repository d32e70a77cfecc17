// The bank: search and filter, newest first, a page at a time (keyset cursor).
import { api, el, setStatus } from "./api.js";
import { fillSelects, queryFrom, statusLabel, typeLabel } from "./operator_common.js";
import { _, formatNumber, ngettext } from "./i18n.js";
import { codeLabel, codeTexts } from "./curriculum.js";

const form = document.querySelector("[data-filters]");
const table = document.querySelector("[data-table]");
const body = table.querySelector("tbody");
const next = document.querySelector("[data-next]");
const first = document.querySelector("[data-first]");
const total = document.querySelector("[data-total]");
let cursor = null;

async function load(fromCursor = null) {
  const params = queryFrom(form);
  params.set("limit", "50");
  if (fromCursor) params.set("cursor", fromCursor);
  setStatus(_("Loading…"));
  try {
    const page = await api(`/api/v1/items?${params}`, { retries: 2 });
    body.replaceChildren();
    const texts = await codeTexts(page.items.flatMap((row) => row.curriculum_codes));
    for (const row of page.items) {
      body.append(
        el(
          "tr",
          { "data-testid": "item-row" },
          el("td", {}, el("a", { href: `/operator/items/${row.id}`, text: row.key })),
          el("td", { class: "num", text: `v${row.version_number}` }),
          el("td", { text: typeLabel[row.item_type] || row.item_type }),
          el("td", {}, el("span", { class: `badge ${row.status}`, text: statusLabel[row.status] || row.status })),
          el("td", {}, ...row.curriculum_codes.map((code) => codeLabel(code, texts))),
          el("td", { class: "stem-cell", text: row.title || row.excerpt }),
        ),
      );
    }
    table.hidden = page.items.length === 0;
    if (page.total !== null) {
      total.textContent = page.total_is_exact
        ? ngettext("%(n)s item matches", "%(n)s items match", page.total)
        : _("More than %(count)s items match", { count: formatNumber(page.total) });
    }
    cursor = page.next_cursor;
    next.hidden = !cursor;
    first.hidden = !fromCursor;
    setStatus(page.items.length ? "" : _("No items match."));
  } catch (error) {
    setStatus(error.message, "error");
  }
}

fillSelects();
form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
next.addEventListener("click", () => load(cursor));
first.addEventListener("click", () => load());
load();
