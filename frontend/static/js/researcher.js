// The researcher's page: parameter sets (download as PARAMS.json, publish a draft) and the
// pseudonymised responses of chosen administrations, as the files the research commands read.
import { api, ApiError, el, setStatus } from "./api.js";
import { _, formatDateTime } from "./i18n.js";
import { describeError, jobItem, jobWhat } from "./research_jobs.js";

const statusLabel = {
  draft: _("draft"),
  published: _("published"),
  retired: _("retired"),
  scheduled: _("scheduled"),
  open: _("open"),
  closed: _("closed"),
};

function describe(error) {
  if (!(error instanceof ApiError)) return _("Cannot reach the server. Try again.");
  const details = error.details && Object.keys(error.details).length ? error.details : null;
  return details ? `${error.message} ${JSON.stringify(details)}` : error.message;
}

async function publish(set, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/parameter-sets/${set.id}/publish`, { method: "POST" });
    await loadSets();
    setStatus(_("Published %(name)s version %(version)s.", { name: set.name, version: set.version }), "ok");
  } catch (error) {
    button.disabled = false;
    setStatus(describe(error), "error");
  }
}

async function loadSets() {
  const { parameter_sets: sets } = await api("/api/v1/parameter-sets", { retries: 3 });
  const table = document.querySelector("[data-table]");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const set of sets) {
    const actions = el(
      "td",
      {},
      el("a", {
        href: `/api/v1/parameter-sets/${set.id}/params.json`,
        text: "PARAMS.json",
        "aria-label": _("Download %(name)s version %(version)s as PARAMS.json", { name: set.name, version: set.version }),
      }),
    );
    actions.append(
      " ",
      el("a", {
        href: `/researcher/parameter-sets/${set.id}`,
        text: _("Review"),
        "aria-label": _("Review %(name)s version %(version)s", { name: set.name, version: set.version }),
      }),
    );
    if (set.status === "draft") {
      const button = el("button", {
        type: "button",
        class: "small",
        text: _("Publish"),
        "aria-label": _("Publish %(name)s version %(version)s", { name: set.name, version: set.version }),
      });
      button.addEventListener("click", () => publish(set, button));
      actions.append(" ", button);
    }
    body.append(
      el(
        "tr",
        { "data-testid": "parameter-set-row" },
        el("td", { text: set.name }),
        el("td", { text: set.version }),
        el("td", {}, el("span", { class: `badge ${set.status}`, text: statusLabel[set.status] || set.status })),
        el("td", { class: "num", text: set.n_items }),
        el("td", { text: formatDateTime(set.created_at) }),
        el("td", { text: (set.provenance && set.provenance.source) || "" }),
        actions,
      ),
    );
  }
  table.hidden = false;
  setStatus(sets.length ? "" : _("No parameter sets yet."));
  const select = document.querySelector("[data-anchor-select]");
  const chosen = select.value;
  for (const option of [...select.options].slice(1)) option.remove();
  const published = sets.filter((set) => set.status === "published");
  for (const set of published) {
    select.append(el("option", { value: set.id, text: `${set.name} v${set.version}` }));
  }
  if (chosen) select.value = chosen;
  else if (published.length) select.value = String(published[published.length - 1].id);
}

function chosenAdministrations() {
  return [...document.querySelectorAll("[data-administrations] input:checked")].map((box) => Number(box.value));
}

function reviewLink(job) {
  if (jobWhat(job) !== "calibrate" || !job.result) return null;
  const anchor = job.parameters.anchor_parameter_set_id;
  const query = anchor ? `?against=${anchor}` : "";
  return {
    href: `/researcher/parameter-sets/${job.result.parameter_set_id}${query}`,
    text: _("Review %(name)s version %(version)s", { name: job.result.name, version: job.result.version }),
  };
}

function showJob(job, { first = false } = {}) {
  const list = document.querySelector("[data-jobs]");
  const item = jobItem(job, { link: reviewLink, onDone: () => loadSets().catch(() => {}) });
  if (first) list.prepend(item);
  else list.append(item);
  document.querySelector("[data-jobs-status]").textContent = "";
}

async function loadJobs() {
  const { jobs } = await api("/api/v1/research/jobs", { retries: 3 });
  document.querySelector("[data-jobs]").replaceChildren();
  for (const job of jobs) showJob(job);
  document.querySelector("[data-jobs-status]").textContent = jobs.length ? "" : _("No jobs yet.");
}

async function startCalibration(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = form.querySelector("[data-calibrate-status]");
  status.dataset.kind = "";
  const administrations = chosenAdministrations();
  if (!administrations.length) {
    status.textContent = _("Choose at least one administration.");
    status.dataset.kind = "error";
    return;
  }
  const data = new FormData(form);
  const body = {
    administration_ids: administrations,
    name: data.get("name"),
    model: data.get("model"),
    drift_threshold: Number(data.get("drift_threshold")),
  };
  if (data.get("anchor_parameter_set_id")) body.anchor_parameter_set_id = Number(data.get("anchor_parameter_set_id"));
  try {
    const job = await api("/api/v1/research/calibrations", { method: "POST", body });
    status.textContent = _("Calibration started (job %(id)s).", { id: job.id });
    status.dataset.kind = "ok";
    showJob(job, { first: true });
  } catch (error) {
    status.textContent = describeError(error);
    status.dataset.kind = "error";
  }
}

function updateDownloads() {
  const chosen = [...document.querySelectorAll("[data-administrations] input:checked")].map(
    (box) => `administration=${encodeURIComponent(box.value)}`,
  );
  for (const link of document.querySelectorAll("[data-download]")) {
    if (chosen.length) {
      link.href = `/api/v1/research/${link.dataset.download}.csv?${chosen.join("&")}`;
      link.removeAttribute("aria-disabled");
    } else {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
    }
  }
  document.querySelector("[data-choose-hint]").hidden = chosen.length > 0;
}

async function loadAdministrations() {
  const { administrations } = await api("/api/v1/research/administrations", { retries: 3 });
  const table = document.querySelector("[data-administrations]");
  const body = table.querySelector("tbody");
  for (const administration of administrations) {
    const box = el("input", {
      type: "checkbox",
      value: administration.id,
      "aria-label": _("Use %(name)s", { name: administration.name }),
    });
    if (!administration.n_responses) box.disabled = true;
    box.addEventListener("change", updateDownloads);
    body.append(
      el(
        "tr",
        { "data-testid": "administration-row" },
        el("td", {}, box),
        el("td", { text: administration.name }),
        el("td", { text: administration.test_title }),
        el("td", { text: statusLabel[administration.status] || administration.status }),
        el("td", { class: "num", text: administration.n_sessions }),
        el("td", { class: "num", text: administration.n_responses }),
      ),
    );
  }
  table.hidden = false;
  document.querySelector("[data-downloads]").hidden = false;
  updateDownloads();
}

// A PARAMS.json (from cbt calibrate or cbt link) becomes the next draft version of a set: the
// server reads the file, checks every record and stores all of them or none.
async function importParams(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = form.querySelector("[data-import-status]");
  status.textContent = "";
  status.dataset.kind = "";
  try {
    const created = await api("/api/v1/parameter-sets/import", {
      method: "POST",
      body: new FormData(form),
    });
    status.textContent = _("Imported %(count)s items as %(name)s version %(version)s (draft).", {
      count: created.n_items,
      name: created.name,
      version: created.version,
    });
    status.dataset.kind = "ok";
    form.reset();
    await loadSets();
  } catch (error) {
    status.textContent = describe(error);
    status.dataset.kind = "error";
  }
}

document.querySelector("[data-import-form]").addEventListener("submit", importParams);
document.querySelector("[data-calibrate-form]").addEventListener("submit", startCalibration);
loadJobs().catch((error) => (document.querySelector("[data-jobs-status]").textContent = describeError(error)));
loadSets().catch((error) => setStatus(describe(error), "error"));
loadAdministrations().catch(
  (error) => (document.querySelector("[data-admin-error]").textContent = describe(error)),
);
