// The 個人票 (per-student report): score with SE and band probabilities, mastery and next steps
// by area, every answer with the item as shown. Printable (reports.css) and as a PDF.
import { api, el, setStatus } from "./api.js";
import { _, formatNumber } from "./i18n.js";

const main = document.getElementById("main");
const studentId = main.dataset.studentId;
const select = document.querySelector("[data-session]");
const num = (value, digits = 0) =>
  value === null || value === undefined
    ? "–"
    : formatNumber(Number(value), { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (value) => formatNumber(value, { style: "percent" });

function rows(name, list) {
  document.querySelector(`[data-table="${name}"] tbody`).replaceChildren(...list);
}

function resultText(answer) {
  if (answer.awaiting_marking) return _("Awaiting marking (out of %(max)s)", { max: num(answer.max_score) });
  if (answer.is_correct === null) return `${num(answer.score, 1)} / ${num(answer.max_score)}`;
  return answer.is_correct ? _("✓ correct") : _("✗ wrong");
}

function question(answer) {
  const parts = [el("div", { class: "stem-cell", html: answer.stem })]; // sanitised by the server
  if (answer.options.length) {
    parts.push(
      el(
        "ul",
        { class: "options-list" },
        ...answer.options.map((option) => {
          const marks = [option.chosen ? _("chosen") : "", option.is_key ? _("key") : ""].filter(Boolean);
          return el("li", {
            class: option.is_key ? "key" : "",
            text: marks.length ? _("%(option)s (%(marks)s)", { option: option.text, marks: marks.join(", ") }) : option.text,
          });
        }),
      ),
    );
  }
  parts.push(el("small", { text: answer.item_key }));
  return el("td", {}, ...parts);
}

function draw(report) {
  const { student, session } = report;
  document.querySelector("[data-title]").textContent = _("Student report (個人票): %(name)s", { name: student.display_name });
  document.querySelector("[data-who]").textContent = _("%(school)s %(classroom)s, No. %(number)s", {
    school: student.school,
    classroom: student.classroom,
    number: student.student_number ?? "–",
  });
  if (!select.options.length) {
    for (const s of report.sessions) select.append(el("option", { value: s.session_id, text: `${s.title} – ${s.administration}` }));
  }
  if (!session) {
    setStatus(_("This student has not taken a test yet."));
    return;
  }
  select.value = session.session_id;
  document.querySelector("[data-pdf]").href = `/api/v1/students/${studentId}/report.pdf?session=${encodeURIComponent(session.session_id)}`;
  const result = session.result;
  document.querySelector("[data-score]").textContent = result
    ? _("Scale score %(score)s (SE %(se)s; 95%% interval %(low)s to %(high)s), band %(band)s", {
        score: num(result.scale_score),
        se: num(result.scale_se),
        low: num(result.low),
        high: num(result.high),
        band: result.band,
      })
    : _("This sitting has no score yet.");
  rows("bands", session.bands.map((b) => el("tr", {}, el("td", { text: b.label }), el("td", { class: "num", text: pct(b.probability) }))));
  rows(
    "areas",
    session.areas.map((area) =>
      el(
        "tr",
        { "data-testid": "area-row" },
        el("td", {}, el("code", { text: area.area }), " ", el("span", { text: area.text })),
        el("td", { class: "num", text: num(area.n_items) }),
        el("td", { class: "num", text: `${num(area.score, 1)} / ${num(area.max_score, 1)}` }),
        el(
          "td",
          { class: "num" },
          el("span", { text: `${pct(area.rate)} (${pct(area.low)}–${pct(area.high)})` }),
          area.few_items ? el("span", { class: "flag", text: ` ${_("few questions")}` }) : "",
        ),
        el(
          "td",
          { "data-testid": "guidance" },
          area.guidance.length
            ? el("ul", { class: "guidance" }, ...area.guidance.map((text) => el("li", { text })))
            : el("span", { text: _("No guidance written for this area yet.") }),
        ),
      ),
    ),
  );
  rows(
    "answers",
    session.answers.map((answer) =>
      el(
        "tr",
        { "data-testid": "report-answer", class: answer.awaiting_marking ? "awaiting" : answer.is_correct ? "correct" : "wrong" },
        el("td", { class: "num", text: answer.sequence }),
        question(answer),
        el("td", { class: "answer-text", text: answer.response_text }),
        el("td", { class: "answer-text", text: answer.correct_text }),
        el("td", { text: resultText(answer) }),
      ),
    ),
  );
  document.querySelector("[data-report]").hidden = false;
  setStatus("");
}

async function load(sessionId) {
  const query = sessionId ? `?session=${encodeURIComponent(sessionId)}` : "";
  draw(await api(`/api/v1/students/${studentId}/report${query}`, { retries: 3 }));
}

document.querySelector("[data-print]").addEventListener("click", () => window.print());
select.addEventListener("change", () => load(select.value).catch((error) => setStatus(error.message, "error")));
load(new URLSearchParams(location.search).get("session")).catch((error) => setStatus(error.message, "error"));
