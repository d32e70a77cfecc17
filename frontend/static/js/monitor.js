// Live progress of one administration, refreshed every few seconds, with the proctor's controls.
import { api, ApiError, el, setStatus } from "./api.js";
import { _ } from "./i18n.js";

const main = document.getElementById("main");
const id = main.dataset.administrationId;
const table = document.querySelector("[data-table]");
const body = table.querySelector("tbody");
const openButton = document.querySelector("[data-open]");
const closeButton = document.querySelector("[data-close]");
const labels = {
  active: _("Answering"),
  paused: _("Paused"),
  finished: _("Finished"),
  expired: _("Time ran out"),
  reset: _("Reset"),
};

const administrationStatus = {
  scheduled: _("scheduled"),
  open: _("open"),
  closed: _("closed"),
};

const clock = (seconds) =>
  seconds === null || seconds === undefined
    ? "–"
    : `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;

async function act(path, bodyData, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  try {
    await api(path, { method: "POST", body: bodyData });
    await load();
  } catch (error) {
    setStatus(error instanceof ApiError ? error.message : _("Cannot reach the server."), "error");
  }
}

function actions(row) {
  const session = row.session;
  const cell = el("td", { class: "actions" });
  if (!session) return cell;
  const base = `/api/v1/sessions/${session.id}`;
  if (session.status === "active") {
    cell.append(el("button", { type: "button", "data-action": "pause", text: _("Pause") }));
  }
  if (session.status === "paused") {
    cell.append(el("button", { type: "button", "data-action": "resume", text: _("Resume") }));
  }
  if (session.status === "active" || session.status === "paused") {
    cell.append(el("button", { type: "button", "data-action": "extra", text: _("+5 min") }));
  }
  if (session.status !== "reset") {
    cell.append(el("button", { type: "button", "data-action": "reset", text: _("Reset") }));
  }
  cell.addEventListener("click", (event) => {
    const action = event.target.dataset.action;
    if (action === "pause") act(`${base}/pause`, { reason: "paused by proctor" });
    if (action === "resume") act(`${base}/resume`, { reason: "resumed by proctor" });
    if (action === "extra") act(`${base}/extra-time`, { seconds: 300, reason: "granted by proctor" });
    if (action === "reset") {
      const reason = window.prompt(_("Reset the test of %(name)s? Give a reason:", { name: row.display_name }));
      if (reason && reason.trim()) act(`${base}/reset`, { reason: reason.trim() });
    }
  });
  return cell;
}

async function load() {
  const report = await api(`/api/v1/administrations/${id}/monitor`, { retries: 2 });
  const a = report.administration;
  document.querySelector("[data-title]").textContent = _("Live progress: %(title)s – %(name)s", { title: a.title, name: a.name });
  const c = report.counts;
  document.querySelector("[data-summary]").textContent =
    _("%(status)s · answering %(active)s · paused %(paused)s · finished %(finished)s · not started %(waiting)s", {
      status: administrationStatus[a.status] || a.status,
      active: c.active,
      paused: c.paused,
      finished: c.finished + c.expired,
      waiting: c.not_started,
    });
  openButton.hidden = a.status === "open";
  closeButton.hidden = a.status !== "open";
  body.replaceChildren();
  for (const row of report.students) {
    const s = row.session;
    body.append(
      el(
        "tr",
        { "data-testid": "monitor-row" },
        el("td", { text: row.classroom }),
        el("td", { text: row.student_number }),
        el("td", { text: row.display_name }),
        el("td", { text: s ? labels[s.status] || s.status : _("Not started") }),
        el("td", { text: s ? s.section : "–" }),
        el("td", { class: "num", text: s ? s.n_answered : 0 }),
        el("td", { class: "num", text: s ? clock(s.remaining_seconds) : "–" }),
        actions(row),
      ),
    );
  }
  table.hidden = false;
  setStatus("");
}

openButton.addEventListener("click", () => act(`/api/v1/administrations/${id}/open`));
closeButton.addEventListener("click", () =>
  act(
    `/api/v1/administrations/${id}/close`,
    undefined,
    _("Close the test? Students still answering will be stopped and scored."),
  ),
);

load().catch((error) => setStatus(error.message, "error"));
setInterval(() => load().catch(() => setStatus(_("Reconnecting…"), "warn")), 5000);
