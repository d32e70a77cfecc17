// Review of one parameter set: anchor drift, linking and fit from its provenance; comparison
// with the current set (server-side SVG charts with text alternatives, and their numbers);
// publish; rescore past sessions as a background job; promote the pretest items.
import { api, el, setStatus } from "./api.js";
import { _, formatNumber } from "./i18n.js";
import { describeError, jobItem } from "./research_jobs.js";

const page = document.querySelector("[data-set-page]");
const setId = Number(page.dataset.parameterSetId);
let itemKeys = {};
let current = null;

const num = (value, digits = 3) =>
  value === null || value === undefined ? "–" : formatNumber(value, { maximumFractionDigits: digits, minimumFractionDigits: digits });
const itemName = (id) => itemKeys[id] || id;

function fact(list, term, value) {
  list.append(el("dt", { text: term }), el("dd", { text: value }));
}

function fillTable(selector, rows) {
  const table = document.querySelector(selector);
  table.querySelector("tbody").replaceChildren(...rows);
  table.hidden = rows.length === 0;
}

function renderSet(set, review) {
  current = set;
  document.querySelector("[data-set-title]").textContent = `${set.name} v${set.version}`;
  const facts = document.querySelector("[data-facts]");
  facts.replaceChildren();
  fact(facts, _("Status"), set.status === "published" ? _("published") : _("draft"));
  if (review) {
    fact(facts, _("Anchor items (held fixed)"), String(review.anchor_items.length));
    fact(facts, _("Pretest items (calibrated)"), String(review.pretest_items.length));
  }
  document.querySelector("[data-publish]").hidden = set.status !== "draft";
  document.querySelector("[data-publish-status]").textContent =
    set.status === "published" ? _("This version is published.") : "";
}

function renderReview(review) {
  const linking = document.querySelector("[data-linking]");
  linking.replaceChildren();
  if (!review) {
    fact(linking, _("Review"), _("This set was not calibrated here (no review is stored)."));
    return;
  }
  if (review.linking) {
    fact(linking, _("Linking method"), "Stocking-Lord");
    fact(linking, _("Slope A"), num(review.linking.slope, 4));
    fact(linking, _("Intercept B"), num(review.linking.intercept, 4));
    fact(linking, _("Anchors in the link"), String(review.linking.n_common_items));
    if (review.pretest_check && review.pretest_check.max_location_difference !== null) {
      fact(linking, _("Pretest items: largest gap between fixed-anchor and linked free locations"), num(review.pretest_check.max_location_difference));
    }
  } else {
    fact(linking, _("Linking"), _("No anchors: the set is on its own scale (mean 0, SD 1)."));
  }
  fillTable(
    "[data-drift]",
    review.drift.map((row) =>
      el(
        "tr",
        { "data-testid": "drift-row", class: row.flagged ? "flagged" : "" },
        el("th", { scope: "row", text: row.item_key }),
        el("td", { class: "num", text: num(row.bank_location) }),
        el("td", { class: "num", text: num(row.free_location) }),
        el("td", { class: "num", text: num(row.location_shift) }),
        el("td", { class: "num", text: num(row.bank_discrimination) }),
        el("td", { class: "num", text: num(row.free_discrimination) }),
        el("td", { text: row.flagged ? _("drifted") : _("stable") }),
      ),
    ),
  );
  const anchors = new Set(review.anchor_items);
  fillTable(
    "[data-fit]",
    review.fit.map((row) =>
      el(
        "tr",
        { "data-testid": "fit-row", class: row.flagged ? "flagged" : "" },
        el("th", { scope: "row", text: itemName(row.item_id) }),
        el("td", { text: anchors.has(row.item_id) ? _("anchor") : _("pretest") }),
        el("td", { class: "num", text: num(row.infit) }),
        el("td", { class: "num", text: num(row.outfit) }),
        el("td", { class: "num", text: String(row.n_responses) }),
        el("td", { text: row.flagged ? _("misfit") : _("fits") }),
      ),
    ),
  );
}

async function compare(against) {
  const status = document.querySelector("[data-compare-status]");
  status.textContent = _("Loading…");
  try {
    const comparison = await api(`/api/v1/research/parameter-sets/${setId}/comparison?against=${against}`);
    const n = comparison.n_common_items;
    const alts = {
      scatter: _("Scatter plots of new against current slopes and locations of %(n)s common items; the largest location shift is %(shift)s.", { n, shift: num(comparison.max_location_shift) }),
      tcc: _("Test characteristic curves of %(n)s common items under the new and the current values.", { n }),
      information: _("Test information curves of %(n)s common items under the new and the current values.", { n }),
    };
    const captions = {
      scatter: _("New against current item parameters"),
      tcc: _("Test characteristic curve"),
      information: _("Test information"),
    };
    for (const image of document.querySelectorAll("[data-chart]")) {
      const kind = image.dataset.chart;
      image.src = `/api/v1/research/parameter-sets/${setId}/charts/${kind}.svg?against=${against}&lang=${document.documentElement.lang}`;
      image.alt = alts[kind];
      document.querySelector(`[data-caption=${kind}]`).textContent = captions[kind];
    }
    document.querySelector("[data-charts]").hidden = n === 0;
    fillTable(
      "[data-comparison]",
      comparison.items.map((row) =>
        el(
          "tr",
          { "data-testid": "comparison-row" },
          el("th", { scope: "row", text: itemName(row.item_id) }),
          el("td", { class: "num", text: num(row.current_discrimination) }),
          el("td", { class: "num", text: num(row.new_discrimination) }),
          el("td", { class: "num", text: num(row.current_location) }),
          el("td", { class: "num", text: num(row.new_location) }),
        ),
      ),
    );
    status.textContent = _("%(n)s items in common; %(new)s items only in this set.", { n, new: comparison.new_items.length });
  } catch (error) {
    status.textContent = describeError(error);
  }
}

async function loadAgainstChoices(defaultAgainst) {
  const { parameter_sets: sets } = await api("/api/v1/parameter-sets", { retries: 3 });
  const select = document.querySelector("[data-against]");
  for (const set of sets.filter((s) => s.id !== setId && s.status === "published")) {
    select.append(el("option", { value: set.id, text: `${set.name} v${set.version}` }));
  }
  if (defaultAgainst && [...select.options].some((o) => o.value === String(defaultAgainst))) {
    select.value = String(defaultAgainst);
  }
  if (select.value) await compare(select.value);
  else document.querySelector("[data-compare-status]").textContent = _("No other published set to compare with.");
}

async function publish(button) {
  const status = document.querySelector("[data-publish-status]");
  button.disabled = true;
  try {
    await api(`/api/v1/parameter-sets/${setId}/publish`, { method: "POST" });
    renderSet({ ...current, status: "published" }, null);
    status.textContent = _("Published %(name)s version %(version)s.", { name: current.name, version: current.version });
  } catch (error) {
    status.textContent = describeError(error);
  } finally {
    button.disabled = false;
  }
}

function showReport(job) {
  const { summary, sessions } = job.result;
  document.querySelector("[data-rescore-summary]").textContent = _(
    "%(changed)s of %(n)s sessions changed; %(bands)s changed band; largest theta change %(max)s.",
    { changed: summary.n_changed, n: summary.n_sessions, bands: summary.n_band_changed, max: num(summary.max_abs_theta_change) },
  );
  fillTable(
    "[data-rescore-report]",
    sessions.map((row) =>
      el(
        "tr",
        { "data-testid": "rescore-row", class: row.changed ? "changed" : "" },
        el("th", { scope: "row", text: row.pseudonym || row.session_id }),
        el("td", { class: "num", text: num(row.old.theta) }),
        el("td", { class: "num", text: num(row.new.theta) }),
        el("td", { class: "num", text: num(row.old.scale_score, 1) }),
        el("td", { class: "num", text: num(row.new.scale_score, 1) }),
        el("td", { text: row.old.band ?? "–" }),
        el("td", { text: row.new.band ?? "–" }),
      ),
    ),
  );
  document.querySelector("[data-rescore-report]").hidden = false;
}

async function loadAdministrations() {
  const { administrations } = await api("/api/v1/research/administrations", { retries: 3 });
  const box = document.querySelector("[data-rescore-administrations]");
  for (const administration of administrations) {
    const input = el("input", { type: "checkbox", name: "administration", value: administration.id });
    if (!administration.n_sessions) input.disabled = true;
    box.append(el("label", {}, input, ` ${administration.name} (${administration.n_sessions})`));
  }
}

async function rescore(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = form.querySelector("[data-rescore-status]");
  const administrations = [...form.querySelectorAll("input[name=administration]:checked")].map((b) => Number(b.value));
  if (!administrations.length) {
    status.textContent = _("Choose at least one administration.");
    return;
  }
  try {
    const job = await api("/api/v1/research/rescorings", {
      method: "POST",
      body: { parameter_set_id: setId, administration_ids: administrations, reason: new FormData(form).get("reason") },
    });
    status.textContent = _("Rescoring started (job %(id)s).", { id: job.id });
    document.querySelector("[data-rescore-jobs]").prepend(jobItem(job, { onDone: showReport }));
  } catch (error) {
    status.textContent = describeError(error);
  }
}

async function promote(button) {
  const status = document.querySelector("[data-promote-status]");
  button.disabled = true;
  try {
    const { promoted } = await api(`/api/v1/research/parameter-sets/${setId}/promote`, { method: "POST" });
    status.textContent = promoted.length
      ? _("%(n)s items are operational now: %(items)s.", { n: promoted.length, items: promoted.map((id) => itemName(String(id))).join(", ") })
      : _("No pretest items in this set.");
  } catch (error) {
    status.textContent = describeError(error);
  } finally {
    button.disabled = false;
  }
}

async function load() {
  const data = await api(`/api/v1/research/parameter-sets/${setId}/review`, { retries: 3 });
  itemKeys = data.item_keys || {};
  renderSet(data.parameter_set, data.review);
  renderReview(data.review);
  setStatus("");
  const requested = new URLSearchParams(location.search).get("against");
  await loadAgainstChoices(requested || (data.review && data.review.anchor_parameter_set_id));
}

document.querySelector("[data-compare-form]").addEventListener("submit", (event) => {
  event.preventDefault();
  const against = new FormData(event.currentTarget).get("against");
  if (against) compare(against);
});
document.querySelector("[data-publish]").addEventListener("click", (event) => publish(event.currentTarget));
document.querySelector("[data-promote]").addEventListener("click", (event) => promote(event.currentTarget));
document.querySelector("[data-rescore-form]").addEventListener("submit", rescore);
load().catch((error) => setStatus(describeError(error), "error"));
loadAdministrations().catch((error) => (document.querySelector("[data-rescore-status]").textContent = describeError(error)));
