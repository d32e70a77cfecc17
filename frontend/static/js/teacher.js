// Teacher pages: class list, class results and one student's answer history.
import { api, el, setStatus } from "./api.js";
import { _, formatNumber } from "./i18n.js";
import { codeLabel, codeTexts } from "./curriculum.js";

const main = document.getElementById("main");
const fmt = (value, digits = 0) =>
  value === null || value === undefined || value === ""
    ? "–"
    : formatNumber(Number(value), { minimumFractionDigits: digits, maximumFractionDigits: digits });
const statusText = {
  active: _("In progress"),
  paused: _("Paused"),
  finished: _("Finished"),
  expired: _("Time ran out"),
  reset: _("Reset"),
};

async function classesPage() {
  const { classes } = await api("/api/v1/classes", { retries: 3 });
  const table = document.querySelector("[data-table]");
  const body = table.querySelector("tbody");
  for (const c of classes) {
    body.append(
      el(
        "tr",
        {},
        el("td", {}, el("a", { href: `/teacher/classes/${c.id}`, text: c.name })),
        el("td", { text: c.grade }),
        el("td", { text: c.school }),
        el("td", {}, el("code", { text: c.class_code })),
        el("td", { text: c.n_students }),
      ),
    );
  }
  table.hidden = false;
  setStatus(classes.length ? "" : _("You have no classes yet."));
  const { administrations } = await api("/api/v1/administrations", { retries: 3 });
  const tests = document.querySelector("[data-administrations]");
  const rows = tests.querySelector("tbody");
  for (const a of administrations) {
    const counts = Object.entries(a.sessions)
      .map(([status, n]) => `${statusText[status] || status} ${formatNumber(n)}`)
      .join(", ");
    rows.append(
      el(
        "tr",
        {},
        el("td", { text: a.test.title }),
        el("td", { text: a.name }),
        el("td", { text: administrationStatus[a.status] || a.status }),
        el("td", { text: counts || _("none yet") }),
        el("td", {}, el("a", { href: `/teacher/administrations/${a.id}`, text: _("Live progress") })),
      ),
    );
  }
  tests.hidden = administrations.length === 0;
}

async function classPage() {
  const id = main.dataset.classroomId;
  const report = await api(`/api/v1/classes/${id}/results`, { retries: 3 });
  document.querySelector("[data-title]").textContent = _("Class %(name)s: results", { name: report.classroom.name });
  const select = document.querySelector("[data-administration]");
  for (const a of report.administrations) {
    select.append(el("option", { value: a.id, text: `${a.title} – ${a.name}` }));
  }
  const table = document.querySelector("[data-table]");
  const body = table.querySelector("tbody");
  const draw = () => {
    body.replaceChildren();
    for (const student of report.students) {
      const session = student.sessions[select.value] || null;
      const result = session && session.result;
      body.append(
        el(
          "tr",
          { "data-testid": "student-row" },
          el("td", { text: student.student_number }),
          el("td", { text: student.display_name }),
          el("td", { text: session ? statusText[session.status] || session.status : _("Not started") }),
          el("td", { class: "num", text: result ? fmt(result.scale_score) : "–" }),
          el("td", { class: "num", text: result ? fmt(result.scale_se) : "–" }),
          el("td", { text: result ? result.band : "–" }),
          el("td", { class: "num", text: session ? session.n_answered : 0 }),
          el(
            "td",
            {},
            el("a", { href: `/teacher/students/${student.id}`, text: _("Answer history") }),
          ),
        ),
      );
    }
  };
  select.addEventListener("change", draw);
  draw();
  table.hidden = false;
  setStatus(report.administrations.length ? "" : _("No tests have been given to this class yet."));
  const mastery = await api(`/api/v1/classes/${id}/mastery`, { retries: 3 });
  const masteryTable = document.querySelector("[data-mastery]");
  const rows = masteryTable.querySelector("tbody");
  const texts = await codeTexts(mastery.codes.map((code) => code.curriculum_prefix));
  for (const code of mastery.codes) {
    rows.append(
      el(
        "tr",
        { "data-testid": "mastery-row" },
        el("td", {}, codeLabel(code.curriculum_prefix, texts)),
        el("td", { class: "num", text: code.n_answers }),
        el("td", { class: "num", text: formatNumber(code.share_correct, { style: "percent" }) }),
        el("td", { class: "num", text: code.n_students }),
      ),
    );
  }
  masteryTable.hidden = mastery.codes.length === 0;
}

// Right or wrong for a one-point item; the score out of the maximum otherwise.
function resultText(answer) {
  if (answer.awaiting_marking) {
    return _("Awaiting marking (out of %(max)s)", { max: fmt(answer.max_score) });
  }
  if (answer.human_scored) {
    return _("%(score)s / %(max)s (scored with a rubric)", { score: fmt(answer.score, 1), max: fmt(answer.max_score) });
  }
  if (answer.max_score === 1 && (answer.score === 0 || answer.score === 1)) {
    return answer.is_correct ? _("✓ correct") : _("✗ wrong");
  }
  return `${fmt(answer.score, 2)} / ${fmt(answer.max_score)}`;
}

async function studentPage() {
  const id = main.dataset.studentId;
  const history = await api(`/api/v1/students/${id}/history`, { retries: 3 });
  document.querySelector("[data-title]").textContent = _("Answer history: %(name)s", { name: history.student.display_name });
  const container = document.querySelector("[data-sessions]");
  if (history.sessions.length === 0) {
    setStatus(_("This student has not taken a test yet."));
    return;
  }
  setStatus("");
  for (const session of history.sessions) {
    const result = session.result;
    const summary = result
      ? _("Scale score %(score)s (SE %(se)s), band %(band)s, θ = %(theta)s ± %(theta_se)s", {
          score: fmt(result.scale_score),
          se: fmt(result.scale_se),
          band: result.band,
          theta: fmt(result.theta, 2),
          theta_se: fmt(result.se, 2),
        })
      : statusText[session.status] || session.status;
    const rows = session.answers.map((answer) =>
      el(
        "tr",
        { "data-testid": "answer-row", class: answer.awaiting_marking ? "awaiting" : answer.is_correct ? "correct" : "wrong" },
        el("td", { text: answer.sequence }),
        el("td", {}, el("div", { class: "stem-cell", html: answer.stem }), el("small", { text: answer.item_key })),
        el("td", { text: answer.curriculum_codes.join(", ") }),
        // A student's answer is text, never markup: textContent, so "<script>" stays visible text.
        el("td", { class: "answer-text", "data-testid": "answer-response", text: answer.response_text }),
        el("td", { class: "answer-text", "data-testid": "answer-key", text: answer.correct_text }),
        el("td", { text: resultText(answer) }),
        el("td", { class: "num", text: _("%(seconds)s s", { seconds: fmt(answer.time_taken_ms / 1000, 1) }) }),
        el("td", { class: "num", text: fmt(answer.theta_after, 2) }),
      ),
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
          ...[
            "#",
            _("Item"),
            _("Curriculum code"),
            _("Response"),
            _("Correct answer"),
            _("Result"),
            _("Time"),
            _("θ after"),
          ].map((h) => el("th", { text: h })),
        ),
      ),
      el("tbody", {}, ...rows),
    );
    const subscores = result && result.subscores && result.subscores.length
      ? el(
          "table",
          { class: "data", "data-testid": "subscores" },
          el(
            "thead",
            {},
            el("tr", {}, ...[_("Curriculum code"), _("Items"), _("Score"), "θ", _("SE")].map((h) => el("th", { text: h }))),
          ),
          el(
            "tbody",
            {},
            ...result.subscores.map((s) =>
              el(
                "tr",
                {},
                el("td", {}, el("code", { text: s.curriculum_prefix })),
                el("td", { class: "num", text: s.n_items }),
                el("td", { class: "num", text: `${fmt(s.raw_score)} / ${fmt(s.max_score)}` }),
                el("td", { class: "num", text: fmt(s.theta, 2) }),
                el("td", { class: "num", text: fmt(s.se, 2) }),
              ),
            ),
          ),
        )
      : "";
    container.append(
      el(
        "article",
        { class: "session", "data-testid": "session" },
        el("h2", { text: `${session.title} – ${session.administration}` }),
        el("p", { "data-testid": "session-summary", text: summary }),
        subscores,
        table,
      ),
    );
  }
}

const administrationStatus = { scheduled: _("scheduled"), open: _("open"), closed: _("closed") };

const pages = { classes: classesPage, class: classPage, student: studentPage };
pages[main.dataset.page]().catch((error) => setStatus(error.message, "error"));
