// The researcher's page: parameter sets (download as PARAMS.json, publish a draft) and the
// pseudonymised responses of chosen administrations, as the files the research commands read.
import { api, ApiError, el, setStatus } from "./api.js";
import { _, formatDateTime } from "./i18n.js";

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
loadSets().catch((error) => setStatus(describe(error), "error"));
loadAdministrations().catch(
  (error) => (document.querySelector("[data-admin-error]").textContent = describe(error)),
);
