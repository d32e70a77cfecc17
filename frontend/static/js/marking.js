// Marking pages: the rater's overview, the blind rater page and an operator's settings and
// agreement statistics. Everything comes from /api/v1/marking; nothing here names a student.
import { ApiError, api, currentUser, el, setStatus } from "./api.js";
import { _, formatNumber } from "./i18n.js";
import { renderItem } from "./item_render.js";

const main = document.getElementById("main");
const percent = (value) => (value === null || value === undefined ? "–" : formatNumber(value, { style: "percent", maximumFractionDigits: 0 }));
const decimal = (value) => (value === null || value === undefined ? "–" : formatNumber(value, { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const stageText = {
  first: _("First mark"),
  second: _("Second mark (independent)"),
  adjudication: _("Adjudication"),
};

function explain(error) {
  if (error instanceof ApiError) return error.message;
  return _("The server cannot be reached. Check the connection and try again.");
}

// -- overview ---------------------------------------------------------------------------------

async function homePage() {
  const { administrations } = await api("/api/v1/marking/administrations", { retries: 3 });
  const container = document.querySelector("[data-administrations]");
  if (administrations.length === 0) {
    setStatus(_("There are no written answers for you to mark."));
    return;
  }
  setStatus("");
  for (const administration of administrations) {
    const heading = el("h2", { text: administration.name });
    const section = el("section", { "data-testid": "marking-administration" }, heading);
    if (currentUser.role === "operator") {
      section.append(
        el("p", {}, el("a", { href: `/marking/administrations/${administration.administration_id}`, text: _("Settings and agreement") })),
      );
    }
    section.append(
      el("p", {
        class: "hint",
        text: _("%(share)s of answers are marked twice; marks further apart than %(tolerance)s points are adjudicated.", {
          share: percent(administration.double_marking_share),
          tolerance: formatNumber(administration.tolerance),
        }),
      }),
    );
    const table = el(
      "table",
      { class: "data" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { text: _("Item") }),
          el("th", { class: "num", text: _("Answers") }),
          el("th", { class: "num", text: _("Final") }),
          el("th", { class: "num", text: _("Awaiting a second mark") }),
          el("th", { class: "num", text: _("Awaiting adjudication") }),
          el("th", { class: "num", text: _("For you") }),
          el("th", {}, el("span", { class: "visually-hidden", text: _("Actions") })),
        ),
      ),
    );
    const body = el("tbody");
    for (const item of administration.items) {
      const link = `/marking/administrations/${administration.administration_id}/items/${item.item_version_id}`;
      body.append(
        el(
          "tr",
          { "data-testid": "marking-item" },
          el("td", { text: item.title || item.item_key }),
          el("td", { class: "num", text: formatNumber(item.n_responses) }),
          el("td", { class: "num", text: formatNumber(item.final) }),
          el("td", { class: "num", text: formatNumber(item.awaiting_second) }),
          el("td", { class: "num", text: formatNumber(item.awaiting_adjudication) }),
          el("td", { class: "num", text: formatNumber(item.for_you) }),
          el("td", {}, item.for_you > 0 ? el("a", { href: link, text: _("Start marking") }) : el("span", { class: "hint", text: _("Nothing to mark") })),
        ),
      );
    }
    table.append(body);
    section.append(table);
    container.append(section);
  }
}

// -- rater page -------------------------------------------------------------------------------

let current = null;
let sending = false;

function showTask(data) {
  const { task, progress } = data;
  document.querySelector("[data-progress]").textContent = _(
    "%(final)s of %(total)s answers have a final mark; %(mine)s wait for you.",
    { final: formatNumber(progress.n_final), total: formatNumber(progress.n_responses), mine: formatNumber(progress.for_you) },
  );
  const layout = document.querySelector("[data-task]");
  current = task;
  if (!task) {
    layout.hidden = true;
    setStatus(_("Nothing is left for you to mark on this item. Thank you."), "ok");
    return;
  }
  layout.hidden = false;
  document.querySelector("[data-code]").textContent = _("Answer %(code)s", { code: task.code });
  document.querySelector("[data-stage]").textContent = stageText[task.stage] || task.stage;
  renderItem(document.querySelector("[data-item]"), task.item);
  document.querySelector("[data-answer]").textContent = task.response_text;
  const marks = document.querySelector("[data-marks]");
  if (task.stage === "adjudication") {
    marks.hidden = false;
    marks.textContent = _("The two marks differ: first rater %(first)s, second rater %(second)s. Your mark decides.", {
      first: formatNumber(task.marks.find((m) => m.stage === "first").points),
      second: formatNumber(task.marks.find((m) => m.stage === "second").points),
    });
  } else {
    marks.hidden = true;
    marks.textContent = "";
  }
  const rubric = document.querySelector("[data-rubric]");
  rubric.replaceChildren();
  for (const level of task.rubric) {
    const attributes = { type: "button", "data-points": String(level.points) };
    if (level.points <= 9) attributes["aria-keyshortcuts"] = String(level.points);
    const button = el(
      "button",
      attributes,
      el("span", { class: "points", text: formatNumber(level.points) }),
      el("span", {}, el("span", { class: "visually-hidden", text: _("points:") }), level.description),
    );
    button.addEventListener("click", () => submitMark(level.points));
    rubric.append(button);
  }
  setStatus(_("Answer %(code)s: choose a score point.", { code: task.code }));
  rubric.querySelector("button")?.focus();
}

async function loadNext() {
  const { administrationId, versionId } = main.dataset;
  showTask(await api(`/api/v1/marking/administrations/${administrationId}/items/${versionId}/next`, { retries: 3 }));
}

async function submitMark(points) {
  if (!current || sending) return;
  sending = true;
  const task = current;
  for (const button of document.querySelectorAll("[data-rubric] button")) button.disabled = true;
  try {
    await api(`/api/v1/marking/responses/${task.response_id}/marks`, { method: "POST", body: { points, stage: task.stage } });
    await loadNext();
    if (current) setStatus(_("Saved %(points)s points for %(code)s. Next answer: %(next)s.", { points, code: task.code, next: current.code }), "ok");
    else setStatus(_("Saved %(points)s points for %(code)s. Nothing is left for you to mark on this item.", { points, code: task.code }), "ok");
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      await loadNext();
      setStatus(_("That answer was marked by someone else meanwhile; here is the next one."), "warn");
    } else {
      setStatus(explain(error), "error");
      for (const button of document.querySelectorAll("[data-rubric] button")) button.disabled = false;
    }
  } finally {
    sending = false;
  }
}

async function raterPage() {
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || !/^[0-9]$/.test(event.key)) return;
    if (event.target instanceof HTMLElement && ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName)) return;
    const button = document.querySelector(`[data-rubric] button[data-points="${event.key}"]`);
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });
  await loadNext();
}

// -- operator: settings and agreement ------------------------------------------------------

async function administrationPage() {
  const id = main.dataset.administrationId;
  const base = `/api/v1/marking/administrations/${id}`;
  const planForm = document.querySelector("[data-plan-form]");
  const assignForm = document.querySelector("[data-assign-form]");
  const [plan, { assignments }, stats] = await Promise.all([
    api(`${base}/plan`, { retries: 3 }),
    api(`${base}/assignments`, { retries: 3 }),
    api(`${base}/agreement`, { retries: 3 }),
  ]);
  planForm.share.value = Math.round(plan.double_marking_share * 100);
  planForm.tolerance.value = plan.tolerance;
  showAssignments(assignments);
  showAgreement(stats);
  setStatus("");
  planForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`${base}/plan`, {
        method: "PUT",
        body: { double_marking_share: Number(planForm.share.value) / 100, tolerance: Number(planForm.tolerance.value) },
      });
      setStatus(_("Settings saved."), "ok");
    } catch (error) {
      setStatus(explain(error), "error");
    }
  });
  assignForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`${base}/assignments`, { method: "POST", body: { email: assignForm.email.value, is_lead: assignForm.is_lead.checked } });
      showAssignments((await api(`${base}/assignments`)).assignments);
      assignForm.reset();
      setStatus(_("Rater assigned."), "ok");
    } catch (error) {
      setStatus(explain(error), "error");
    }
  });

  function showAssignments(rows) {
    const body = document.querySelector("[data-assignments] tbody");
    body.replaceChildren();
    for (const row of rows) {
      // The visible word first, the person's name for screen readers after it.
      const remove = el("button", { type: "button", class: "small" }, _("Remove"), el("span", { class: "visually-hidden", text: ` (${row.display_name})` }));
      remove.addEventListener("click", async () => {
        try {
          await api(`/api/v1/marking/assignments/${row.id}`, { method: "DELETE" });
          showAssignments((await api(`${base}/assignments`)).assignments);
          setStatus(_("Assignment removed."), "ok");
        } catch (error) {
          setStatus(explain(error), "error");
        }
      });
      body.append(
        el("tr", {}, el("td", { text: row.display_name }), el("td", { text: row.email || "" }), el("td", { text: row.is_lead ? _("Yes") : _("No") }), el("td", {}, remove)),
      );
    }
  }
}

function showAgreement(stats) {
  const items = document.querySelector("[data-agreement-items] tbody");
  for (const item of stats.items) {
    items.append(
      el(
        "tr",
        { "data-testid": "agreement-item" },
        el("td", { text: item.title || item.item_key }),
        el("td", { class: "num", text: formatNumber(item.n_responses) }),
        el("td", { class: "num", text: formatNumber(item.n_final) }),
        el("td", { class: "num", text: formatNumber(item.n_pairs) }),
        el("td", { class: "num", text: percent(item.exact_agreement) }),
        el("td", { class: "num", text: percent(item.adjacent_agreement) }),
        el("td", { class: "num", text: decimal(item.quadratic_weighted_kappa) }),
        el("td", { class: "num", text: formatNumber(item.n_adjudicated) }),
        el("td", { class: "num", text: formatNumber(item.n_awaiting_adjudication) }),
      ),
    );
  }
  const raters = document.querySelector("[data-agreement-raters] tbody");
  for (const rater of stats.raters) {
    raters.append(
      el(
        "tr",
        { "data-testid": "agreement-rater" },
        el("td", { text: rater.display_name }),
        el("td", { class: "num", text: formatNumber(rater.n_marks) }),
        el("td", { class: "num", text: formatNumber(rater.n_pairs) }),
        el("td", { class: "num", text: percent(rater.exact_agreement) }),
        el("td", { class: "num", text: percent(rater.adjacent_agreement) }),
        el("td", { class: "num", text: decimal(rater.quadratic_weighted_kappa) }),
        el("td", { class: "num", text: decimal(rater.mean_difference) }),
      ),
    );
  }
}

const pages = { "marking-home": homePage, "marking-rater": raterPage, "marking-administration": administrationPage };
pages[main.dataset.page]?.().catch((error) => setStatus(explain(error), "error"));
