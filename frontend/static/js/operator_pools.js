// Item pools on the test definitions page: the list, and a new pool made of the latest version of
// every item matching a few filters (GET /api/v1/items, a page at a time; POST /api/v1/pools).
import { api, el } from "./api.js";
import { _, formatNumber, ngettext } from "./i18n.js";
import { delivery } from "./operator_forms.js";

const section = document.querySelector("[data-pools-section]");
const table = section.querySelector("[data-pool-table]");
const body = table.querySelector("tbody");
const form = section.querySelector("[data-pool-form]");
const count = form.querySelector("[data-pool-count]");
const status = form.querySelector("[data-pool-status]");
const setSelect = form.querySelector("[data-pool-parameter-sets]");

let parameterSets = [];

function say(node, text, kind = "") {
  node.textContent = text;
  node.dataset.kind = kind;
}

async function load() {
  const [{ pools }, { parameter_sets: sets }] = await Promise.all([
    api("/api/v1/pools", { retries: 2 }),
    api("/api/v1/parameter-sets", { retries: 2 }),
  ]);
  parameterSets = sets;
  const setName = Object.fromEntries(sets.map((s) => [s.id, `${s.name} v${s.version}`]));
  body.replaceChildren();
  for (const pool of pools) {
    body.append(
      el(
        "tr",
        { "data-testid": "pool-row" },
        el("td", { text: pool.name }),
        el("td", { class: "num", text: formatNumber(pool.n_items) }),
        el("td", { text: setName[pool.active_parameter_set_id] || _("none") }),
        el("td", { text: pool.description || "" }),
      ),
    );
  }
  table.hidden = pools.length === 0;
  const chosen = setSelect.value;
  setSelect.replaceChildren(el("option", { value: "", text: _("none") }));
  for (const set of sets.filter((s) => s.status === delivery.parameterSetPublished)) {
    setSelect.append(el("option", { value: String(set.id), text: `${set.name} v${set.version}` }));
  }
  setSelect.value = chosen;
}

// Every matching item's latest version id, 200 a page.
async function matchingVersions() {
  const params = new URLSearchParams({ limit: "200", status: form.elements.status.value });
  for (const name of ["code_prefix", "grade"]) {
    const value = String(form.elements[name].value).trim();
    if (value) params.set(name, value);
  }
  const ids = [];
  let cursor = null;
  do {
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/api/v1/items?${params}`, { retries: 2 });
    ids.push(...page.items.map((row) => row.version_id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

function clearErrors() {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
}

function fieldError(name, message) {
  const slot = form.querySelector(`[data-error-for="${name}"]`);
  if (!slot) return false;
  slot.textContent = message;
  const field = form.querySelector(`[aria-describedby~="${slot.id}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
  return true;
}

async function countItems() {
  clearErrors();
  say(count, _("Counting…"));
  try {
    const ids = await matchingVersions();
    say(count, ngettext("%(n)s item matches", "%(n)s items match", ids.length));
    return ids;
  } catch (error) {
    say(count, "");
    if (!fieldError("item_version_ids", error.message)) say(status, error.message, "error");
    return null;
  }
}

form.querySelector("[data-pool-count-button]").addEventListener("click", countItems);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  say(status, "");
  const name = form.elements.name.value.trim();
  if (!name) {
    clearErrors();
    fieldError("name", _("Enter a name."));
    return;
  }
  const ids = await countItems();
  if (ids === null) return;
  if (!ids.length) {
    fieldError("item_version_ids", _("No items match; change the filters."));
    return;
  }
  const payload = { name, description: form.elements.description.value.trim(), item_version_ids: ids };
  if (setSelect.value) payload.active_parameter_set_id = Number(setSelect.value);
  try {
    const pool = await api("/api/v1/pools", { method: "POST", body: payload });
    say(status, _("Created pool %(name)s with %(n)s items.", { name: pool.name, n: formatNumber(pool.n_items) }), "ok");
    form.reset();
    say(count, "");
    await load();
    document.dispatchEvent(new CustomEvent("pools-changed"));
  } catch (error) {
    const details = error.details || {};
    const field = details.field || ("name" in details ? "name" : "item_version_ids" in details ? "item_version_ids" : null);
    if (!(field && fieldError(field, error.message))) say(status, error.message, "error");
  }
});

load().catch((error) => say(status, error.message, "error"));
