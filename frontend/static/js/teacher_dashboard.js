// The class dashboard: server-drawn SVG charts (each with a title and description) and the
// same numbers as tables. Nothing here names or ranks a student.
import { api, el, setStatus } from "./api.js";
import { _, formatNumber } from "./i18n.js";

const main = document.getElementById("main");
const classroomId = main.dataset.classroomId;
const select = document.querySelector("[data-administration]");
const num = (value, digits = 0) =>
  value === null || value === undefined
    ? "–"
    : formatNumber(Number(value), { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (value) => formatNumber(value, { style: "percent" });
const interval = (low, high, format = num) =>
  low === null || low === undefined ? "–" : _("%(low)s to %(high)s", { low: format(low), high: format(high) });

function fillTable(name, rows) {
  const body = document.querySelector(`[data-table="${name}"] tbody`);
  body.replaceChildren(...rows);
}

function cell(text, numeric = false) {
  return el("td", numeric ? { class: "num", text } : { text });
}

function optionShares(item) {
  if (item.options.length) {
    return el(
      "ul",
      { class: "options-list" },
      ...item.options.map((option) =>
        el("li", {
          class: option.is_key ? "key" : "",
          text: _(option.is_key ? "%(option)s: %(share)s (key)" : "%(option)s: %(share)s", {
            option: option.text,
            share: pct(option.share),
          }),
        }),
      ),
    );
  }
  return el(
    "ul",
    { class: "options-list" },
    ...item.scores.map((s) => el("li", { text: _("score %(score)s: %(share)s", { score: num(s.score, 1), share: pct(s.share) }) })),
  );
}

function drawCharts(charts) {
  for (const chart of charts) {
    const figure = document.querySelector(`[data-chart="${chart.id}"]`);
    if (!figure) continue;
    // Server-drawn SVG (matplotlib; every label escaped there), with <title> and <desc>.
    figure.querySelector(".chart-box").innerHTML = chart.svg;
    figure.querySelector("figcaption").textContent = chart.summary;
    figure.removeAttribute("aria-busy");
  }
}

function clearCharts() {
  for (const figure of document.querySelectorAll("[data-chart]")) {
    figure.setAttribute("aria-busy", "true");
    figure.querySelector(".chart-box").replaceChildren();
    figure.querySelector("figcaption").textContent = _("Drawing the chart…");
  }
}

function draw(report) {
  document.querySelector("[data-title]").textContent = _("Class %(name)s: dashboard", { name: report.classroom.name });
  fillTable(
    "distribution",
    report.distribution.map((bin) =>
      el("tr", {}, cell(_("%(low)s to under %(high)s", { low: num(bin.low), high: num(bin.high) })), cell(num(bin.n), true)),
    ),
  );
  fillTable(
    "bands",
    report.bands.map((band) =>
      el(
        "tr",
        { "data-testid": "band-row" },
        cell(band.label),
        cell(
          band.low === null
            ? _("below %(high)s", { high: num(band.high) })
            : band.high === null
              ? _("%(low)s and above", { low: num(band.low) })
              : interval(band.low, band.high),
        ),
        cell(num(band.n_observed), true),
        cell(num(band.n_clearly), true),
        cell(num(band.n_possibly), true),
        cell(num(band.expected, 1), true),
      ),
    ),
  );
  fillTable(
    "items",
    report.items.map((item) =>
      el(
        "tr",
        { "data-testid": "item-row" },
        cell(num(item.position), true),
        el("td", {}, el("span", { text: item.label }), el("br"), el("small", { text: item.item_key })),
        cell(num(item.n), true),
        el(
          "td",
          { class: "num" },
          el("span", { text: `${pct(item.rate)} (${interval(item.low, item.high, pct)})` }),
          item.few ? el("span", { class: "flag", text: ` ${_("few answers")}` }) : "",
          item.n_awaiting_marking
            ? el("span", { class: "flag", text: " " + _("%(n)s awaiting marking", { n: num(item.n_awaiting_marking) }) })
            : "",
        ),
        el("td", {}, optionShares(item)),
        cell(_("%(seconds)s s", { seconds: num(item.mean_time_s, 1) }), true),
      ),
    ),
  );
  fillTable(
    "mastery",
    report.mastery.map((code) =>
      el(
        "tr",
        { "data-testid": "mastery-row" },
        el("td", {}, el("code", { text: code.code }), " ", el("span", { text: code.text })),
        cell(num(code.n_items), true),
        cell(num(code.n_answers), true),
        cell(`${pct(code.rate)} (${interval(code.low, code.high, pct)})`, true),
        el("td", {}, code.few_items ? el("span", { class: "flag", text: _("few questions: read with care") }) : ""),
      ),
    ),
  );
  fillTable(
    "trend",
    report.trend.map((point) =>
      el(
        "tr",
        { "data-testid": "trend-row" },
        cell(`${point.title} – ${point.name}`),
        cell(num(point.n), true),
        cell(num(point.mean), true),
        cell(interval(point.low, point.high), true),
      ),
    ),
  );
  const pdf = document.querySelector("[data-class-pdf]");
  if (report.administration) pdf.href = `/api/v1/classes/${classroomId}/reports.pdf?administration=${report.administration.id}`;
  document.querySelector("[data-dashboard]").hidden = false;
  setStatus(report.students.length ? "" : _("No student of this class has a result in this test yet."));
}

let loading = 0; // the latest load wins: an older reply arriving late is dropped

async function load(administrationId) {
  const mine = ++loading;
  setStatus(_("Loading…"));
  clearCharts();
  const query = new URLSearchParams({ charts: "0" });
  if (administrationId) query.set("administration", administrationId);
  // The numbers first: the tables never wait for the charts, which the server draws once per
  // report (the first view of a changed report takes a moment; later views come from its cache).
  const report = await api(`/api/v1/classes/${classroomId}/dashboard?${query}`, { retries: 3 });
  if (mine !== loading) return;
  if (!select.options.length) {
    for (const a of report.administrations) select.append(el("option", { value: a.id, text: `${a.title} – ${a.name}` }));
  }
  if (report.administration) select.value = String(report.administration.id);
  draw(report);
  query.delete("charts");
  if (report.administration) query.set("administration", report.administration.id);
  const charted = await api(`/api/v1/classes/${classroomId}/dashboard?${query}`, { retries: 3 });
  if (mine === loading) drawCharts(charted.charts || []);
}

select.addEventListener("change", () => load(select.value).catch((error) => setStatus(error.message, "error")));
load(new URLSearchParams(location.search).get("administration")).catch((error) => setStatus(error.message, "error"));
