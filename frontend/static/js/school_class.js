// One class: its students (add, edit, move, archive), its teachers, and the class itself.
import { api, el, setStatus } from "./api.js";
import { _, formatNumber } from "./i18n.js";
import { bindForm, failureText, whole } from "./school_common.js";

const main = document.getElementById("main");
const classroomId = Number(main.dataset.classroomId);
const notice = document.querySelector("[data-notice]");
let classroom = null;

function tell(text) {
  notice.textContent = text;
  notice.hidden = !text;
}

const nameFields = ["family_name", "given_name", "family_name_kana", "given_name_kana"];

function personBody(data) {
  const body = {};
  for (const name of nameFields) {
    const value = (data.get(name) || "").trim();
    body[name] = value || null;
  }
  return body;
}

async function loadClass() {
  classroom = await api(`/api/v1/classes/${classroomId}`, { retries: 3 });
  document.querySelector("[data-class-name]").textContent = classroom.name;
  document.title = `${classroom.name} · ${document.title}`;
  document.querySelector("[data-back]").href = `/school/${classroom.school_id}`;
  document.querySelector("[data-class-facts]").textContent = _(
    "%(school)s · grade %(grade)s · academic year %(year)s · class code %(code)s",
    {
      school: classroom.school.name,
      grade: formatNumber(classroom.grade),
      year: classroom.academic_year,
      code: classroom.class_code,
    },
  );
  const form = document.getElementById("edit-class");
  form.elements.name.value = classroom.name;
  form.elements.grade.value = classroom.grade;
  form.elements.academic_year.value = classroom.academic_year;
  if (classroom.archived_at) {
    setStatus(_("This class is archived: its students cannot sign in."), "error");
    for (const form of document.forms) for (const control of form.elements) control.disabled = true;
  }
  renderTeachers(classroom.teachers);
}

function renderTeachers(teachers) {
  const list = document.querySelector("[data-class-teachers]");
  list.replaceChildren();
  for (const t of teachers) {
    const remove = el("button", { type: "button", class: "small", text: _("Remove") });
    remove.setAttribute("aria-label", _("Remove %(name)s from this class", { name: t.display_name }));
    remove.addEventListener("click", async () => {
      try {
        const reply = await api(`/api/v1/classes/${classroomId}/teachers/${t.id}`, { method: "DELETE" });
        renderTeachers(reply.teachers);
      } catch (failure) {
        tell(failureText(failure));
      }
    });
    list.append(el("li", {}, `${t.display_name} `, remove));
  }
  if (!teachers.length) list.append(el("li", { text: _("No teacher is assigned yet.") }));
}

async function loadTeacherChoices() {
  const select = document.querySelector("#assign-teacher [name=user_id]");
  try {
    const { teachers } = await api(`/api/v1/schools/${classroom.school_id}/teachers`, { retries: 3 });
    select.replaceChildren(...teachers.map((t) => el("option", { value: t.id, text: `${t.display_name} (${t.email})` })));
  } catch (failure) {
    tell(failureText(failure));
  }
}

async function loadStudents() {
  const { students } = await api(`/api/v1/classes/${classroomId}/students`, { retries: 3 });
  const table = document.querySelector("[data-students]");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const s of students) {
    const edit = el("button", { type: "button", class: "small", text: _("Edit") });
    edit.setAttribute("aria-label", _("Edit %(name)s", { name: s.display_name }));
    edit.addEventListener("click", () => openEdit(s));
    const move = el("button", { type: "button", class: "small", text: _("Move") });
    move.setAttribute("aria-label", _("Move %(name)s to another class", { name: s.display_name }));
    move.addEventListener("click", () => openMove(s));
    const archive = el("button", { type: "button", class: "small", text: _("Archive") });
    archive.setAttribute("aria-label", _("Archive %(name)s", { name: s.display_name }));
    archive.addEventListener("click", async () => {
      if (!window.confirm(_("Archive %(name)s? They can no longer sign in; their results stay.", { name: s.display_name }))) return;
      try {
        await api(`/api/v1/students/${s.id}/archive`, { method: "POST" });
        tell(_("%(name)s was archived.", { name: s.display_name }));
        await loadStudents();
      } catch (failure) {
        tell(failureText(failure));
      }
    });
    const forget = el("button", { type: "button", class: "small", text: _("Delete identity") });
    forget.setAttribute("aria-label", _("Delete identity of %(name)s", { name: s.display_name }));
    forget.addEventListener("click", async () => {
      const question = _(
        "Delete the identity of %(name)s? Their name, kana, e-mail, roster id and login code are removed for good; only a pseudonym and their answers stay, for research. This cannot be undone.",
        { name: s.display_name },
      );
      if (!window.confirm(question)) return;
      try {
        await api(`/api/v1/students/${s.id}/identity`, { method: "DELETE" });
        tell(_("The identity was deleted."));
        await loadStudents();
      } catch (failure) {
        tell(failureText(failure));
      }
    });
    const actions = s.identity_deleted ? [] : [edit, " ", move, " ", archive, " ", forget];
    body.append(
      el(
        "tr",
        { "data-student": s.id },
        el("td", { class: "num", text: s.student_number == null ? "–" : String(s.student_number) }),
        el("td", { text: s.display_name }),
        el("td", { text: s.kana || "–" }),
        el("td", { class: "actions" }, ...actions),
      ),
    );
  }
  table.hidden = students.length === 0;
  document.querySelector("[data-no-students]").hidden = students.length > 0;
}

let editing = null;
function openEdit(student) {
  editing = student;
  const dialog = document.querySelector("[data-student-dialog]");
  const form = document.getElementById("edit-student");
  form.querySelector("[data-error]").textContent = "";
  form.elements.student_number.value = student.student_number;
  form.elements.display_name.value = student.display_name;
  for (const name of nameFields) form.elements[name].value = student[name] || "";
  dialog.showModal();
}

let moving = null;
async function openMove(student) {
  moving = student;
  const dialog = document.querySelector("[data-move-dialog]");
  const form = document.getElementById("move-student");
  form.querySelector("[data-error]").textContent = "";
  document.querySelector("[data-move-who]").textContent = student.display_name;
  form.elements.student_number.value = student.student_number;
  const select = form.elements.classroom_id;
  try {
    const { classes } = await api(`/api/v1/schools/${classroom.school_id}/classes`, { retries: 3 });
    select.replaceChildren(
      ...classes.filter((c) => c.id !== classroomId).map((c) => el("option", { value: c.id, text: c.name })),
    );
  } catch (failure) {
    tell(failureText(failure));
    return;
  }
  if (!select.options.length) {
    tell(_("This school has no other class to move to."));
    return;
  }
  dialog.showModal();
}

for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

function bindDialogForm(form, handler) {
  bindForm(form, async (data) => {
    await handler(data);
    form.closest("dialog").close();
  });
}

async function start() {
  await loadClass();
  await loadStudents();
  setStatus(classroom.archived_at ? _("This class is archived: its students cannot sign in.") : "");
  await loadTeacherChoices();

  bindForm(document.getElementById("edit-class"), async (data) => {
    await api(`/api/v1/classes/${classroomId}`, {
      method: "PATCH",
      body: {
        name: data.get("name").trim(),
        grade: whole(data.get("grade")),
        academic_year: whole(data.get("academic_year")),
      },
    });
    await loadClass();
    tell(_("Saved."));
  });
  document.querySelector("[data-archive-class]").addEventListener("click", async () => {
    if (!window.confirm(_("Archive this class? Its students can no longer sign in; results stay."))) return;
    try {
      await api(`/api/v1/classes/${classroomId}/archive`, { method: "POST" });
      await loadClass();
      setStatus(_("This class is archived: its students cannot sign in."), "error");
    } catch (failure) {
      tell(failureText(failure));
    }
  });
  const newStudent = document.getElementById("new-student");
  bindForm(newStudent, async (data) => {
    const display = data.get("display_name").trim();
    const created = await api(`/api/v1/classes/${classroomId}/students`, {
      method: "POST",
      body: {
        student_number: whole(data.get("student_number")),
        ...personBody(data),
        ...(display ? { display_name: display } : {}),
      },
    });
    newStudent.reset();
    await loadStudents();
    tell(
      _("%(name)s was added as number %(number)s. Login code (shown only now): %(code)s", {
        name: created.display_name,
        number: created.student_number,
        code: created.login_code,
      }),
    );
  });
  bindDialogForm(document.getElementById("edit-student"), async (data) => {
    await api(`/api/v1/students/${editing.id}`, {
      method: "PATCH",
      body: {
        student_number: whole(data.get("student_number")),
        display_name: data.get("display_name").trim(),
        ...personBody(data),
      },
    });
    await loadStudents();
    tell(_("Saved."));
  });
  bindDialogForm(document.getElementById("move-student"), async (data) => {
    const number = whole(data.get("student_number"));
    await api(`/api/v1/students/${moving.id}/move`, {
      method: "POST",
      body: { classroom_id: whole(data.get("classroom_id")), ...(number ? { student_number: number } : {}) },
    });
    await loadStudents();
    tell(_("%(name)s was moved.", { name: moving.display_name }));
  });
  bindForm(document.getElementById("assign-teacher"), async (data) => {
    const reply = await api(`/api/v1/classes/${classroomId}/teachers`, {
      method: "POST",
      body: { user_id: whole(data.get("user_id")) },
    });
    renderTeachers(reply.teachers);
  });
}

start().catch((failure) => setStatus(failureText(failure), "error"));
