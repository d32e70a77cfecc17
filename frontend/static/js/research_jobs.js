// Background jobs on the researcher's pages: a job's progress bar, message and outcome, read
// from the job's row on the server (so a reload finds it again), polled until it ends.
import { api, ApiError, el } from "./api.js";
import { _, formatDateTime } from "./i18n.js";

// Job kinds are "research.<what>"; the page names them by <what>.
export const jobWhat = (job) => job.kind.split(".").pop();
const kindLabel = { calibrate: _("Calibration"), rescore: _("Rescoring") };
const statusLabel = {
  queued: _("queued"),
  running: _("running"),
  succeeded: _("succeeded"),
  failed: _("failed"),
};

export function describeError(error) {
  if (!(error instanceof ApiError)) return _("Cannot reach the server. Try again.");
  return error.message;
}

// One job as a list item with a <progress> bar; `onDone(job)` runs once when it succeeds.
export function jobItem(job, { onDone, link } = {}) {
  const bar = el("progress", { max: "1", value: String(job.progress || 0) });
  const label = el("span", { class: "job-label" });
  const message = el("span", { class: "job-message", "aria-live": "polite" });
  const outcome = el("div", { class: "job-outcome" });
  const item = el("li", { class: "job", "data-testid": "job", "data-job-id": job.id }, label, bar, message, outcome);
  bar.setAttribute("aria-label", _("Progress of job %(id)s", { id: job.id }));
  let finished = false;
  const render = (current) => {
    label.textContent = `${kindLabel[jobWhat(current)] || current.kind} #${current.id} · ${statusLabel[current.status] || current.status} · ${formatDateTime(current.created_at)}`;
    bar.value = current.progress || 0;
    item.dataset.status = current.status;
    message.textContent = current.status === "failed" ? "" : current.message || "";
    outcome.replaceChildren();
    if (current.status === "failed") {
      outcome.append(el("p", { class: "error", role: "alert", text: _("The job failed: %(reason)s", { reason: current.error || "" }) }));
    } else if (current.status === "succeeded" && link) {
      const target = link(current);
      if (target) outcome.append(el("a", { href: target.href, text: target.text }));
    }
    if (!finished && current.status === "succeeded" && onDone) onDone(current);
    finished = current.status === "succeeded" || current.status === "failed";
  };
  render(job);
  const poll = async () => {
    if (finished) return;
    try {
      render(await api(`/api/v1/research/jobs/${job.id}`));
    } catch (error) {
      message.textContent = describeError(error);
    }
    if (!finished) setTimeout(poll, 700);
  };
  if (!finished) setTimeout(poll, 300);
  return item;
}
