// Import a QTI 3.0 package (or check it), and export matching items as one.
import { api, el, setStatus } from "./api.js";
import { fillSelects, queryFrom } from "./operator_common.js";
import { _, ngettext } from "./i18n.js";

const importForm = document.querySelector("[data-import-form]");
const problems = document.querySelector("[data-problems]");

importForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  problems.replaceChildren();
  const data = new FormData(importForm);
  const params = new URLSearchParams({
    status: data.get("status"),
    on_existing: data.get("on_existing"),
    dry_run: data.get("dry_run") ? "1" : "0",
  });
  if (data.get("parameter_set_id")) params.set("parameter_set_id", data.get("parameter_set_id"));
  const upload = new FormData();
  upload.append("package", data.get("package"));
  setStatus(_("Reading the package…"));
  try {
    const body = await api(`/api/v1/items/import?${params}`, { method: "POST", body: upload });
    const counts = {
      created: body.created,
      revised: body.revised,
      unchanged: body.unchanged,
      skipped: body.skipped,
      media: body.media,
    };
    const summary = body.dry_run
      ? ngettext(
          "%(n)s item: %(created)s would be created, %(revised)s revised, %(unchanged)s unchanged, %(skipped)s skipped; %(media)s media files. Nothing was written: untick “Check only” to import.",
          "%(n)s items: %(created)s would be created, %(revised)s revised, %(unchanged)s unchanged, %(skipped)s skipped; %(media)s media files. Nothing was written: untick “Check only” to import.",
          body.n_items,
          counts,
        )
      : ngettext(
          "%(n)s item: %(created)s created, %(revised)s revised, %(unchanged)s unchanged, %(skipped)s skipped; %(media)s media files.",
          "%(n)s items: %(created)s created, %(revised)s revised, %(unchanged)s unchanged, %(skipped)s skipped; %(media)s media files.",
          body.n_items,
          counts,
        );
    setStatus(body.message ? `${summary} ${body.message.message}` : summary, "ok");
    for (const test of body.tests || []) showTest(test);
    for (const warning of body.warnings) problems.append(el("li", { text: warning }));
  } catch (error) {
    setStatus(error.message, "error");
    for (const problem of (error.details && error.details.errors) || []) {
      problems.append(el("li", { text: `${problem.file || problem.resource}: ${problem.message}` }));
    }
  }
});

const TEST_STATUS = {
  created: () => _("test definition created"),
  exists: () => _("test definition already exists"),
  mapped: () => _("mapped, not created"),
  not_mapped: () => _("does not map"),
};

// One assessment test of the package: what it became, why, and what of it did not map.
function showTest(test) {
  const label = (TEST_STATUS[test.status] || (() => test.status))();
  const reason = test.reason ? ` ${test.reason.message}` : "";
  const item = el("li", { text: `${test.identifier} (${test.title}): ${label}.${reason}` });
  if (test.notes.length) {
    const notes = el("ul");
    for (const note of test.notes) notes.append(el("li", { text: note.message }));
    item.append(notes);
  }
  problems.append(item);
}

const exportForm = document.querySelector("[data-export-form]");
exportForm.addEventListener("submit", (event) => {
  event.preventDefault();
  window.location.assign(`/api/v1/items/export.zip?${queryFrom(exportForm)}`);
});
fillSelects();
