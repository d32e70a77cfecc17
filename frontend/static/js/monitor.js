// Live progress of one administration, refreshed every few seconds, with the proctor's controls.
import { api, ApiError, el, setStatus } from "./api.js";

const main = document.getElementById("main");
const id = main.dataset.administrationId;
const table = document.querySelector("[data-table]");
const body = table.querySelector("tbody");
const openButton = document.querySelector("[data-open]");
const closeButton = document.querySelector("[data-close]");
const labels = {
  active: "Answering",
  paused: "Paused",
  finished: "Finished",
  expired: "Time ran out",
  reset: "Reset",
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
    setStatus(error instanceof ApiError ? error.message : "Cannot reach the server.", "error");
  }
}

function actions(row) {
  const session = row.session;
  const cell = el("td", { class: "actions" });
  if (!session) return cell;
  const base = `/api/v1/sessions/${session.id}`;
  if (session.status === "active") {
    cell.append(el("button", { type: "button", "data-action": "pause", text: "Pause" }));
  }
  if (session.status === "paused") {
    cell.append(el("button", { type: "button", "data-action": "resume", text: "Resume" }));
  }
  if (session.status === "active" || session.status === "paused") {
    cell.append(el("button", { type: "button", "data-action": "extra", text: "+5 min" }));
  }
  if (session.status !== "reset") {
    cell.append(el("button", { type: "button", "data-action": "reset", text: "Reset" }));
  }
  cell.addEventListener("click", (event) => {
    const action = event.target.dataset.action;
    if (action === "pause") act(`${base}/pause`, { reason: "paused by proctor" });
    if (action === "resume") act(`${base}/resume`, { reason: "resumed by proctor" });
    if (action === "extra") act(`${base}/extra-time`, { seconds: 300, reason: "granted by proctor" });
    if (action === "reset") {
      const reason = window.prompt(`Reset ${row.display_name}'s test? Give a reason:`);
      if (reason && reason.trim()) act(`${base}/reset`, { reason: reason.trim() });
    }
  });
  return cell;
}

async function load() {
  const report = await api(`/api/v1/administrations/${id}/monitor`, { retries: 2 });
  const a = report.administration;
  document.querySelector("[data-title]").textContent = `Live progress: ${a.title} – ${a.name}`;
  const c = report.counts;
  document.querySelector("[data-summary]").textContent =
    `${a.status} · answering ${c.active} · paused ${c.paused} · finished ${c.finished + c.expired} · not started ${c.not_started}`;
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
        el("td", { text: s ? labels[s.status] || s.status : "Not started" }),
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
    "Close the test? Students still answering will be stopped and scored.",
  ),
);

load().catch((error) => setStatus(error.message, "error"));
setInterval(() => load().catch(() => setStatus("Reconnecting…", "warn")), 5000);
