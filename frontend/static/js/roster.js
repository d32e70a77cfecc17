// The roster page: check a OneRoster zip (dry run), show what would change and every bad row,
// then import the same file.
import { api, el, setStatus } from "./api.js";
import { _ } from "./i18n.js";

const form = document.querySelector("[data-roster-form]");
const fileInput = document.querySelector("[data-roster-file]");
const importButton = document.querySelector("[data-import]");
const reportBox = document.querySelector("[data-report]");
const errorsBox = document.querySelector("[data-errors]");
const countsBody = document.querySelector("[data-counts] tbody");
const caption = document.querySelector("[data-counts-caption]");
const errorBody = document.querySelector("[data-error-table] tbody");
const notices = document.querySelector("[data-notices]");

const KINDS = {
  schools: () => _("Schools"),
  classrooms: () => _("Classes"),
  users: () => _("People"),
  enrollments: () => _("Enrolments"),
};

function showReport(report) {
  countsBody.replaceChildren();
  notices.replaceChildren();
  errorBody.replaceChildren();
  for (const [kind, label] of Object.entries(KINDS)) {
    const counts = (report.counts || {})[kind] || {};
    countsBody.append(
      el(
        "tr",
        {},
        el("th", { scope: "row", text: label() }),
        ...["created", "updated", "archived", "unchanged"].map((name) =>
          el("td", { class: "num", text: String(counts[name] || 0) }),
        ),
      ),
    );
  }
  caption.textContent = report.dry_run
    ? _("Dry run: nothing was written.")
    : _("Imported.");
  for (const item of [...(report.notices || []), ...(report.warnings || [])]) {
    notices.append(el("li", { text: `${item.file}${item.line ? ":" + item.line : ""}: ${item.reason}` }));
  }
  reportBox.hidden = !report.counts;
  const errors = report.errors || [];
  errorsBox.hidden = errors.length === 0;
  for (const problem of errors) {
    errorBody.append(
      el(
        "tr",
        {},
        el("td", { text: problem.file || "" }),
        el("td", { class: "num", text: problem.line == null ? "" : String(problem.line) }),
        el("td", { text: problem.column || "" }),
        el("td", { text: problem.reason }),
      ),
    );
  }
}

async function send(dryRun) {
  const file = fileInput.files[0];
  if (!file) return;
  const upload = new FormData();
  upload.append("package", file);
  setStatus(_("Reading the roster…"));
  importButton.disabled = true;
  try {
    const report = await api(`/api/v1/roster/import?dry_run=${dryRun ? "1" : "0"}`, {
      method: "POST",
      body: upload,
    });
    showReport(report);
    if (dryRun) {
      setStatus(_("The roster is valid. Check the changes, then import it."), "ok");
      importButton.disabled = false;
    } else {
      setStatus(_("The roster was imported."), "ok");
    }
  } catch (error) {
    setStatus(error.message, "error");
    showReport({ ...(error.details || {}), counts: null });
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send(true);
});
importButton.addEventListener("click", () => send(false));
fileInput.addEventListener("change", () => {
  importButton.disabled = true;
});
