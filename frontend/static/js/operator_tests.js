// Test definitions: the list, and a form that builds a definition (CAT, LOFT or linear) for
// POST /api/v1/test-definitions, with the API's validation errors shown beside their fields.
import { api, ApiError, el, setStatus } from "./api.js";
import { _, formatDuration, formatNumber } from "./i18n.js";
import { clearErrors, delivery, focusSummary, kindLabel, linkSummary, showError } from "./operator_forms.js";

const PUBLISHED = delivery.parameterSetPublished;

const table = document.querySelector("[data-tests]");
const body = table.querySelector("tbody");
const form = document.querySelector("[data-test-form]");
const summary = document.querySelector("[data-error-summary]");
const formStatus = form.querySelector("[data-form-status]");
const poolSelect = form.querySelector("[data-pools]");
const setSelect = form.querySelector("[data-parameter-sets]");
const poolFacts = form.querySelector("[data-pool-facts]");

let pools = [];
let parameterSets = [];

const bands = form.elements.band_labels;
if (!bands.value) bands.value = bands.dataset.defaultBands;

function currentKind() {
  return form.querySelector('input[name="kind"]:checked').value;
}

function showKind() {
  const kind = currentKind();
  for (const panel of form.querySelectorAll("[data-kind-panel]")) {
    panel.hidden = panel.dataset.kindPanel !== kind;
  }
}

// -- the lists the form picks from ------------------------------------------------------------

function setLabel(set) {
  const label = `${set.name} v${set.version} (${set.model}, ${formatNumber(set.n_items)})`;
  if (set.status === PUBLISHED) return label;
  return _("%(set)s: draft, not available until a researcher publishes it", { set: label });
}

function fillPools() {
  poolSelect.replaceChildren(el("option", { value: "", text: _("Choose a pool") }));
  for (const pool of pools) {
    poolSelect.append(el("option", { value: pool.name, text: `${pool.name} (${formatNumber(pool.n_items)})` }));
  }
}

function fillParameterSets() {
  const chosen = setSelect.value;
  setSelect.replaceChildren(el("option", { value: "", text: _("Choose a published parameter set") }));
  for (const set of parameterSets) {
    const option = el("option", { value: String(set.id), text: setLabel(set) });
    if (set.status !== PUBLISHED) option.disabled = true;
    setSelect.append(option);
  }
  if (chosen) setSelect.value = chosen;
}

function describePool() {
  const pool = pools.find((p) => p.name === poolSelect.value);
  if (!pool) {
    poolFacts.textContent = _("The items a test may draw from.");
    return;
  }
  const active = parameterSets.find((s) => s.id === pool.active_parameter_set_id);
  poolFacts.textContent = active
    ? _("%(n)s items; the pool's active parameter set is %(set)s.", {
        n: formatNumber(pool.n_items),
        set: `${active.name} v${active.version}`,
      })
    : _("%(n)s items; the pool has no active parameter set.", { n: formatNumber(pool.n_items) });
  if (active && active.status === PUBLISHED && !setSelect.value) setSelect.value = String(active.id);
}

// -- the list of definitions -------------------------------------------------------------------

function sectionLength(section) {
  if (section.kind === "linear") return Math.max(...section.forms.map((f) => f.length));
  if (section.kind === "loft") return Object.values(section.counts).reduce((a, b) => a + b, 0);
  const rules = Object.fromEntries(section.stopping.map((r) => [r.rule, r]));
  const most = rules.max_length ? rules.max_length.n : "?";
  return rules.min_length ? `${rules.min_length.n}–${most}` : `≤ ${most}`;
}

async function loadDefinitions() {
  const { test_definitions: rows } = await api("/api/v1/test-definitions", { retries: 2 });
  const poolName = Object.fromEntries(pools.map((p) => [p.id, p.name]));
  const setName = Object.fromEntries(parameterSets.map((s) => [s.id, `${s.name} v${s.version}`]));
  body.replaceChildren();
  for (const row of rows) {
    const sections = row.settings.sections || [];
    const limits = sections.map((s) => s.time_limit_seconds);
    body.append(
      el(
        "tr",
        { "data-testid": "test-row" },
        el("td", {}, el("code", { text: row.key })),
        el("td", { text: row.title }),
        el("td", { text: kindLabel[row.mode] || row.mode }),
        el("td", { text: poolName[row.pool_id] || String(row.pool_id) }),
        el("td", { text: setName[row.parameter_set_id] || String(row.parameter_set_id) }),
        el("td", { text: sections.map(sectionLength).join(" + ") }),
        el("td", { text: limits.every(Boolean) ? formatDuration(limits.reduce((a, b) => a + b, 0)) : _("none") }),
      ),
    );
  }
  table.hidden = rows.length === 0;
  setStatus(rows.length ? "" : _("No test definitions yet. Create the first one below."));
}

// -- building the definition -------------------------------------------------------------------

class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

const number = (name) => {
  const raw = String(form.elements[name].value).trim();
  return raw === "" ? null : Number(raw);
};

// "area: value" lines; ``parse`` turns the value into what the definition holds.
function areaLines(name, field, parse) {
  const out = {};
  for (const [index, line] of String(form.elements[name].value).split("\n").entries()) {
    if (!line.trim()) continue;
    const match = line.match(/^\s*([^:]+?)\s*:\s*(.+?)\s*$/);
    const value = match && parse(match[2]);
    if (!match || value === null) {
      throw new FieldError(field, _("Line %(line)s is not in the form shown: %(text)s", { line: index + 1, text: line.trim() }));
    }
    out[match[1]] = value;
  }
  return out;
}

const wholeNumber = (text) => (/^\d+$/.test(text) && Number(text) > 0 ? Number(text) : null);
const range = (text) => {
  const match = text.match(/^(\d+)\s*[-–~〜]\s*(\d+)$/);
  return match ? { min: Number(match[1]), max: Number(match[2]) } : null;
};

function section(kind, title) {
  const out = { key: "main", title, kind, shuffle_options: form.elements.shuffle_options.checked };
  const minutes = number("time_limit_minutes");
  if (minutes !== null) out.time_limit_seconds = Math.round(minutes * 60);
  if (kind === "cat") {
    const limits = areaLines("content_limits", "content_limits", range);
    const selection = [];
    if (Object.keys(limits).length) selection.push({ rule: "content_limits", limits });
    selection.push({ rule: "max_information" });
    const k = number("randomesque");
    if (k !== null && k > 1) selection.push({ rule: "randomesque", k });
    const stopping = [];
    if (number("min_length") !== null) stopping.push({ rule: "min_length", n: number("min_length") });
    stopping.push({ rule: "max_length", n: number("max_length") });
    if (number("se_target") !== null) stopping.push({ rule: "se_target", se: number("se_target") });
    const rate = number("max_rate");
    Object.assign(out, { areas: "content_area", selection, stopping });
    if (rate !== null && rate < 1) out.exposure = { max_rate: rate };
  } else if (kind === "loft") {
    Object.assign(out, {
      areas: "content_area",
      counts: areaLines("counts", "counts", wholeNumber),
      difficulty: { mean: number("difficulty_mean") ?? 0, sd: number("difficulty_sd") ?? 1 },
    });
  } else {
    const forms = String(form.elements.forms.value)
      .split("\n")
      .map((line) => line.split(/[\s,、]+/).filter(Boolean))
      .filter((keys) => keys.length);
    Object.assign(out, {
      forms,
      assignment: form.elements.assignment.value,
      shuffle_items: form.elements.shuffle_items.checked,
    });
  }
  return out;
}

const list = (name) =>
  String(form.elements[name].value)
    .split(/[,、\n]/)
    .map((part) => part.trim())
    .filter(Boolean);

function definition() {
  const title = form.elements.title.value.trim();
  const set = parameterSets.find((s) => String(s.id) === setSelect.value);
  const cuts = list("cut_scores").map(Number);
  if (cuts.some((c) => Number.isNaN(c))) throw new FieldError("scale", _("Cut scores must be numbers."));
  return {
    key: form.elements.key.value.trim(),
    title,
    pool: poolSelect.value,
    parameter_set: set ? set.name : "",
    ...(set ? { parameter_set_version: set.version } : {}),
    settings: { sections: [section(currentKind(), title)] },
    scale: {
      slope: number("slope"),
      intercept: number("intercept"),
      cut_scores: cuts,
      band_labels: list("band_labels"),
    },
  };
}

// Which field an API error is about: the field it names, else where in the definition it is.
function fieldOf(error) {
  const details = error.details || {};
  const kind = currentKind();
  if (details.field) return { settings: "section" }[details.field] || details.field;
  if ("pool" in details) return "pool";
  if ("parameter_set" in details) return "parameter_set";
  if (error.code === "conflict" && "key" in details) return "key";
  if ("unknown" in details && !details.where) return kind === "linear" ? "forms" : "section";
  const where = details.where || "";
  if (where.includes("time_limit_seconds")) return "time_limit_seconds";
  if (where.includes(".exposure")) return "exposure";
  if (where.includes(".counts") || (kind === "loft" && "areas" in details)) return "counts";
  if (where.includes(".difficulty")) return "difficulty";
  if (where.includes(".forms") || (kind === "linear" && where.startsWith("sections["))) return "forms";
  if (where.includes(".areas") || "areas" in details) return kind === "loft" ? "counts" : "content_limits";
  if (kind === "loft" && where.startsWith("sections[")) return "counts";
  if (kind === "cat" && /^sections\[\d+\]$/.test(where)) return "stopping";
  if (!where && /reporting scale/i.test(error.message)) return "scale";
  return "section";
}

form.addEventListener("change", (event) => {
  if (event.target.name === "kind") showKind();
  if (event.target === poolSelect) describePool();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form, summary);
  formStatus.textContent = "";
  let payload;
  try {
    payload = definition();
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    showError(form, summary, error.field, error.message);
    focusSummary(summary, _("The test definition was not saved:"));
    return;
  }
  const missing = [];
  if (!payload.key) missing.push(["key", _("Enter a key.")]);
  if (!payload.title) missing.push(["title", _("Enter a title.")]);
  if (!payload.pool) missing.push(["pool", _("Choose a pool.")]);
  if (!payload.parameter_set) missing.push(["parameter_set", _("Choose a published parameter set.")]);
  if (missing.length) {
    for (const [field, message] of missing) showError(form, summary, field, message);
    focusSummary(summary, _("The test definition was not saved:"));
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const created = await api("/api/v1/test-definitions", { method: "POST", body: payload });
    formStatus.dataset.kind = "ok";
    formStatus.textContent = _("Saved test definition %(key)s. Give it to classes on the Administrations page.", { key: created.key });
    form.elements.key.value = "";
    await loadDefinitions();
  } catch (error) {
    if (!(error instanceof ApiError)) {
      focusSummary(summary, error.message);
    } else {
      showError(form, summary, fieldOf(error), error.message);
      focusSummary(summary, _("The test definition was not saved:"));
    }
  } finally {
    button.disabled = false;
  }
});

linkSummary(summary);

// A pool made in the section above can be chosen at once.
document.addEventListener("pools-changed", async () => {
  try {
    ({ pools } = await api("/api/v1/pools", { retries: 2 }));
    const chosen = poolSelect.value;
    fillPools();
    poolSelect.value = chosen;
  } catch (error) {
    setStatus(error.message, "error");
  }
});

async function start() {
  try {
    const [poolReply, setReply] = await Promise.all([
      api("/api/v1/pools", { retries: 2 }),
      api("/api/v1/parameter-sets", { retries: 2 }),
    ]);
    pools = poolReply.pools;
    parameterSets = setReply.parameter_sets;
    fillPools();
    fillParameterSets();
    describePool();
    showKind();
    await loadDefinitions();
  } catch (error) {
    setStatus(error.message, "error");
  }
}

start();
