// Administrations: the list with open, close and re-publish, a form that gives a test to
// classes, and the class picker (GET /api/v1/classes, every class an operator may see).
import { api, ApiError, el, setStatus } from "./api.js";
import { _, formatDateTime, formatNumber, ngettext } from "./i18n.js";
import { clearErrors, delivery, focusSummary, linkSummary, showError } from "./operator_forms.js";

const STATUS = delivery.administrationStatus;
const statusLabel = { [STATUS.SCHEDULED]: _("scheduled"), [STATUS.OPEN]: _("open"), [STATUS.CLOSED]: _("closed") };
const sittingLabel = {
  active: _("In progress"),
  paused: _("Paused"),
  finished: _("Finished"),
  expired: _("Time ran out"),
  reset: _("Reset"),
};

const table = document.querySelector("[data-administrations]");
const body = table.querySelector("tbody");
const actionStatus = document.querySelector("[data-action-status]");
const form = document.querySelector("[data-administration-form]");
const summary = document.querySelector("[data-error-summary]");
const formStatus = form.querySelector("[data-form-status]");
const testSelect = form.querySelector("[data-test-options]");
const republishDialog = document.querySelector("[data-republish-dialog]");
const closeDialog = document.querySelector("[data-close-dialog]");
const classesDialog = document.querySelector("[data-classes-dialog]");

let classes = [];
let administrations = [];

function say(text, kind = "") {
  actionStatus.textContent = text;
  actionStatus.dataset.kind = kind;
}

// -- the class picker: checkboxes grouped by school ---------------------------------------------

function classPicker(container, prefix, checked = new Set()) {
  container.replaceChildren();
  if (!classes.length) {
    container.append(el("p", { class: "hint", text: _("There are no classes yet.") }));
    return;
  }
  const bySchool = new Map();
  for (const c of classes) {
    if (!bySchool.has(c.school)) bySchool.set(c.school, []);
    bySchool.get(c.school).push(c);
  }
  for (const [school, rows] of bySchool) {
    const group = el("fieldset", { class: "school-classes" }, el("legend", { text: school }));
    for (const c of rows) {
      const id = `${prefix}-${c.id}`;
      const box = el("input", { type: "checkbox", id, name: "classroom_ids", value: String(c.id) });
      box.checked = checked.has(c.id);
      group.append(
        el(
          "label",
          { class: "check", for: id },
          box,
          ` ${c.name} · ${_("grade %(grade)s", { grade: c.grade })} · `,
          el("code", { text: c.class_code }),
          ` · ${ngettext("%(n)s student", "%(n)s students", c.n_students)}`,
        ),
      );
    }
    container.append(group);
  }
}

const pickedClasses = (container) =>
  [...container.querySelectorAll('input[name="classroom_ids"]:checked')].map((box) => Number(box.value));

// -- the list --------------------------------------------------------------------------------------

function windowText(a) {
  if (!a.opens_at && !a.closes_at) return _("whenever it is open");
  return `${formatDateTime(a.opens_at)} – ${formatDateTime(a.closes_at)}`;
}

function actionCell(a) {
  const cell = el("td", { class: "actions" });
  const button = (action, text, extra = {}) =>
    el("button", { type: "button", "data-action": action, "data-id": String(a.id), ...extra, text });
  if (a.status !== STATUS.OPEN) {
    cell.append(button("open", a.status === STATUS.CLOSED ? _("Re-open") : _("Open"), { "aria-describedby": "open-note" }));
  }
  if (a.status === STATUS.OPEN) cell.append(button("close", _("Close")));
  if (a.status === STATUS.SCHEDULED) cell.append(button("classes", _("Change classes")));
  if (a.form_revision) cell.append(button("republish", _("Re-publish")));
  cell.append(el("a", { href: `/teacher/administrations/${a.id}`, text: _("Live progress") }));
  return cell;
}

function render() {
  body.replaceChildren();
  for (const a of administrations) {
    const counts = Object.entries(a.sessions)
      .map(([status, n]) => `${sittingLabel[status] || status} ${formatNumber(n)}`)
      .join(", ");
    const classCell = el("td", {});
    for (const c of a.classes) {
      classCell.append(
        el(
          "span",
          { class: "class-chip" },
          `${c.name} `,
          el("a", { href: `/teacher/classes/${c.id}`, text: _("results"), "aria-label": _("Results of %(class)s", { class: c.name }) }),
        ),
      );
    }
    body.append(
      el(
        "tr",
        { "data-testid": "administration-row", "data-administration-id": String(a.id) },
        el("td", { text: a.name }),
        el("td", {}, el("span", { text: a.test.title }), el("br"), el("code", { text: a.test.key })),
        classCell,
        el("td", { text: windowText(a) }),
        el("td", {}, el("span", { class: `badge ${a.status}`, "data-testid": "administration-status", text: statusLabel[a.status] || a.status })),
        el("td", { text: a.form_revision ? _("revision %(n)s", { n: a.form_revision }) : _("not published yet") }),
        el("td", { text: counts || _("none yet") }),
        actionCell(a),
      ),
    );
  }
  table.hidden = administrations.length === 0;
  setStatus(administrations.length ? "" : _("No administrations yet. Create the first one below."));
}

async function loadAdministrations() {
  ({ administrations } = await api("/api/v1/administrations", { retries: 2 }));
  render();
}

// -- actions ---------------------------------------------------------------------------------------

async function act(path, options, done) {
  try {
    const result = await api(path, { method: "POST", ...options });
    say(done(result), "ok");
    await loadAdministrations();
    return true;
  } catch (error) {
    say(error.message, "error");
    return false;
  }
}

let dialogFor = null; // the administration a dialog acts on
let returnFocus = null;

function openDialog(dialog, id, trigger) {
  dialogFor = id;
  returnFocus = trigger;
  for (const slot of dialog.querySelectorAll("[data-error-for]")) slot.textContent = "";
  dialog.showModal();
}

function closeDialogAndReturn(dialog) {
  dialog.close();
  const row = body.querySelector(`[data-administration-id="${dialogFor}"]`);
  const again = row && returnFocus ? row.querySelector(`[data-action="${returnFocus.dataset.action}"]`) : null;
  (again || (document.contains(returnFocus) ? returnFocus : table)).focus?.();
}

for (const dialog of [republishDialog, closeDialog, classesDialog]) {
  dialog.querySelector("[data-cancel]").addEventListener("click", () => closeDialogAndReturn(dialog));
}

body.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const id = Number(button.dataset.id);
  const a = administrations.find((row) => row.id === id);
  if (button.dataset.action === "open") {
    act(`/api/v1/administrations/${id}/open`, {}, () =>
      _("%(name)s is open. Its form is published; students of its classes can start it now.", { name: a.name }),
    );
  } else if (button.dataset.action === "close") {
    openDialog(closeDialog, id, button);
  } else if (button.dataset.action === "republish") {
    republishDialog.querySelector("textarea").value = "";
    openDialog(republishDialog, id, button);
  } else if (button.dataset.action === "classes") {
    classPicker(classesDialog.querySelector("[data-edit-class-options]"), `edit-class-${id}`, new Set(a.classes.map((c) => c.id)));
    openDialog(classesDialog, id, button);
  }
});

closeDialog.querySelector("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const a = administrations.find((row) => row.id === dialogFor);
  const ok = await act(`/api/v1/administrations/${dialogFor}/close`, {}, (result) =>
    ngettext(
      "%(name)s is closed; %(n)s running sitting was ended and scored.",
      "%(name)s is closed; %(n)s running sittings were ended and scored.",
      result.sessions_closed,
      { name: a.name },
    ),
  );
  if (ok) closeDialogAndReturn(closeDialog);
});

republishDialog.querySelector("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reason = republishDialog.querySelector("textarea");
  const error = republishDialog.querySelector("[data-error-for=reason]");
  if (!reason.value.trim()) {
    error.textContent = _("Give a reason; it is kept in the audit log.");
    reason.setAttribute("aria-invalid", "true");
    reason.focus();
    return;
  }
  try {
    const result = await api(`/api/v1/administrations/${dialogFor}/republish`, {
      method: "POST",
      body: { reason: reason.value.trim() },
    });
    reason.removeAttribute("aria-invalid");
    say(
      _("Form revision %(revision)s published (%(n)s items). Sittings already started keep their form.", {
        revision: result.revision,
        n: formatNumber(result.n_items),
      }),
      "ok",
    );
    await loadAdministrations();
    closeDialogAndReturn(republishDialog);
  } catch (failure) {
    error.textContent = failure.message;
    reason.setAttribute("aria-invalid", "true");
  }
});

classesDialog.querySelector("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = classesDialog.querySelector("[data-error-for=classroom_ids]");
  const picked = pickedClasses(classesDialog);
  if (!picked.length) {
    error.textContent = _("Choose at least one class.");
    return;
  }
  try {
    await api(`/api/v1/administrations/${dialogFor}/classrooms`, { method: "PUT", body: { classroom_ids: picked } });
    say(_("Classes saved."), "ok");
    await loadAdministrations();
    closeDialogAndReturn(classesDialog);
  } catch (failure) {
    error.textContent = failure.message;
  }
});

// -- creating ----------------------------------------------------------------------------------

const isoFrom = (value) => (value ? new Date(value).toISOString() : undefined);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form, summary);
  formStatus.textContent = "";
  const picker = form.querySelector("[data-class-options]");
  const payload = {
    test: testSelect.value,
    name: form.elements.name.value.trim(),
    classroom_ids: pickedClasses(picker),
    opens_at: isoFrom(form.elements.opens_at.value),
    closes_at: isoFrom(form.elements.closes_at.value),
  };
  const missing = [];
  if (!payload.test) missing.push(["test", _("Choose a test definition.")]);
  if (!payload.name) missing.push(["name", _("Enter a name.")]);
  if (!payload.classroom_ids.length) missing.push(["classroom_ids", _("Choose at least one class.")]);
  if (missing.length) {
    for (const [field, message] of missing) showError(form, summary, field, message);
    focusSummary(summary, _("The administration was not created:"));
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const created = await api("/api/v1/administrations", { method: "POST", body: payload });
    formStatus.dataset.kind = "ok";
    formStatus.textContent = _("Created %(name)s (scheduled). Open it from the list above when the class is ready.", { name: payload.name });
    form.reset();
    await loadAdministrations();
    body.querySelector(`[data-administration-id="${created.id}"] button[data-action="open"]`)?.focus();
  } catch (error) {
    const details = (error instanceof ApiError && error.details) || {};
    const field = details.field || ("classroom_ids" in details ? "classroom_ids" : "test" in details ? "test" : null);
    if (field) showError(form, summary, field, error.message);
    else summary.querySelector("ul").append(el("li", { text: error.message }));
    focusSummary(summary, _("The administration was not created:"));
  } finally {
    button.disabled = false;
  }
});

linkSummary(summary);

async function start() {
  try {
    const [testReply, classReply] = await Promise.all([
      api("/api/v1/test-definitions", { retries: 2 }),
      api("/api/v1/classes", { retries: 2 }),
    ]);
    testSelect.replaceChildren(el("option", { value: "", text: _("Choose a test definition") }));
    for (const t of testReply.test_definitions) {
      testSelect.append(el("option", { value: t.key, text: `${t.title} (${t.key})` }));
    }
    classes = classReply.classes;
    classPicker(form.querySelector("[data-class-options]"), "class");
    await loadAdministrations();
  } catch (error) {
    setStatus(error.message, "error");
  }
}

start();
