// Teacher pages: class list, class results and one student's answer history.
import { api, el, setStatus } from "./api.js";

const main = document.getElementById("main");
const fmt = (value, digits = 0) =>
  value === null || value === undefined || value === "" ? "–" : Number(value).toFixed(digits);
const statusText = {
  active: "In progress",
  finished: "Finished",
  expired: "Time ran out",
  reset: "Reset",
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
  setStatus(classes.length ? "" : "You have no classes yet.");
  const { administrations } = await api("/api/v1/administrations", { retries: 3 });
  const tests = document.querySelector("[data-administrations]");
  const rows = tests.querySelector("tbody");
  for (const a of administrations) {
    const counts = Object.entries(a.sessions)
      .map(([status, n]) => `${status} ${n}`)
      .join(", ");
    rows.append(
      el(
        "tr",
        {},
        el("td", { text: a.test.title }),
        el("td", { text: a.name }),
        el("td", { text: a.status }),
        el("td", { text: counts || "none yet" }),
        el("td", {}, el("a", { href: `/teacher/administrations/${a.id}`, text: "Live progress" })),
      ),
    );
  }
  tests.hidden = administrations.length === 0;
}

async function classPage() {
  const id = main.dataset.classroomId;
  const report = await api(`/api/v1/classes/${id}/results`, { retries: 3 });
  document.querySelector("[data-title]").textContent = `Class ${report.classroom.name}: results`;
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
          el("td", { text: session ? statusText[session.status] || session.status : "Not started" }),
          el("td", { class: "num", text: result ? fmt(result.scale_score) : "–" }),
          el("td", { class: "num", text: result ? fmt(result.scale_se) : "–" }),
          el("td", { text: result ? result.band : "–" }),
          el("td", { class: "num", text: session ? session.n_answered : 0 }),
          el(
            "td",
            {},
            el("a", { href: `/teacher/students/${student.id}`, text: "Answer history" }),
          ),
        ),
      );
    }
  };
  select.addEventListener("change", draw);
  draw();
  table.hidden = false;
  setStatus(report.administrations.length ? "" : "No tests have been given to this class yet.");
  const mastery = await api(`/api/v1/classes/${id}/mastery`, { retries: 3 });
  const masteryTable = document.querySelector("[data-mastery]");
  const rows = masteryTable.querySelector("tbody");
  for (const code of mastery.codes) {
    rows.append(
      el(
        "tr",
        { "data-testid": "mastery-row" },
        el("td", {}, el("code", { text: code.curriculum_prefix })),
        el("td", { class: "num", text: code.n_answers }),
        el("td", { class: "num", text: `${Math.round(code.share_correct * 100)}%` }),
        el("td", { class: "num", text: code.n_students }),
      ),
    );
  }
  masteryTable.hidden = mastery.codes.length === 0;
}

// Right or wrong for a one-point item; the score out of the maximum otherwise.
function resultText(answer) {
  if (answer.human_scored) return `${fmt(answer.score, 1)} / ${fmt(answer.max_score)} (scored with a rubric)`;
  if (answer.max_score === 1 && (answer.score === 0 || answer.score === 1)) {
    return answer.is_correct ? "✓ correct" : "✗ wrong";
  }
  return `${fmt(answer.score, 2)} / ${fmt(answer.max_score)}`;
}

async function studentPage() {
  const id = main.dataset.studentId;
  const history = await api(`/api/v1/students/${id}/history`, { retries: 3 });
  document.querySelector("[data-title]").textContent = `Answer history: ${history.student.display_name}`;
  const container = document.querySelector("[data-sessions]");
  if (history.sessions.length === 0) {
    setStatus("This student has not taken a test yet.");
    return;
  }
  setStatus("");
  for (const session of history.sessions) {
    const result = session.result;
    const summary = result
      ? `Scale score ${fmt(result.scale_score)} (SE ${fmt(result.scale_se)}), band ${result.band}, θ = ${fmt(result.theta, 2)} ± ${fmt(result.se, 2)}`
      : statusText[session.status] || session.status;
    const rows = session.answers.map((answer) =>
      el(
        "tr",
        { "data-testid": "answer-row", class: answer.is_correct ? "correct" : "wrong" },
        el("td", { text: answer.sequence }),
        el("td", {}, el("div", { class: "stem-cell", html: answer.stem }), el("small", { text: answer.item_key })),
        el("td", { text: answer.curriculum_codes.join(", ") }),
        // A student's answer is text, never markup: textContent, so "<script>" stays visible text.
        el("td", { class: "answer-text", "data-testid": "answer-response", text: answer.response_text }),
        el("td", { class: "answer-text", "data-testid": "answer-key", text: answer.correct_text }),
        el("td", { text: resultText(answer) }),
        el("td", { class: "num", text: fmt(answer.time_taken_ms / 1000, 1) + " s" }),
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
          ...["#", "Item", "Curriculum code", "Response", "Correct answer", "Result", "Time", "θ after"].map(
            (h) => el("th", { text: h }),
          ),
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
            el("tr", {}, ...["Curriculum code", "Items", "Score", "θ", "SE"].map((h) => el("th", { text: h }))),
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

const pages = { classes: classesPage, class: classPage, student: studentPage };
pages[main.dataset.page]().catch((error) => setStatus(error.message, "error"));
