// School management: the operator's list of schools, and a school's classes and teachers.
import { api, el, setStatus } from "./api.js";
import { _, formatNumber } from "./i18n.js";
import { bindForm, failureText, whole } from "./school_common.js";

const main = document.getElementById("main");
const roleNames = { teacher: _("teacher"), school_admin: _("school administrator") };

async function schoolList() {
  const table = document.querySelector("[data-schools]");
  const body = table.querySelector("tbody");
  async function load() {
    const { schools } = await api("/api/v1/schools", { retries: 3 });
    body.replaceChildren();
    for (const school of schools) {
      const archive = el("button", { type: "button", class: "small", text: _("Archive") });
      archive.addEventListener("click", async () => {
        if (!window.confirm(_("Archive %(name)s? Nobody of this school can sign in afterwards.", { name: school.name }))) return;
        try {
          await api(`/api/v1/schools/${school.id}/archive`, { method: "POST" });
          await load();
        } catch (failure) {
          setStatus(failureText(failure), "error");
        }
      });
      body.append(
        el(
          "tr",
          {},
          el("td", {}, el("code", { text: school.code })),
          el("td", {}, el("a", { href: `/school/${school.id}`, text: school.name })),
          el("td", { class: "num", text: formatNumber(school.n_classes) }),
          el("td", { class: "actions" }, archive),
        ),
      );
    }
    table.hidden = schools.length === 0;
    setStatus(schools.length ? "" : _("No schools yet."));
  }
  bindForm(document.getElementById("new-school"), async (data) => {
    await api("/api/v1/schools", {
      method: "POST",
      body: { code: data.get("code").trim(), name: data.get("name").trim() },
    });
    document.getElementById("new-school").reset();
    await load();
  });
  await load();
}

async function schoolHome() {
  const schoolId = Number(main.dataset.schoolId);
  const school = await api(`/api/v1/schools/${schoolId}`, { retries: 3 });
  const heading = document.querySelector("[data-school-name]");
  heading.textContent = school.name;
  document.title = `${school.name} · ${document.title}`;
  const rename = document.getElementById("rename-school");
  rename.elements.name.value = school.name;
  bindForm(rename, async (data) => {
    const updated = await api(`/api/v1/schools/${schoolId}`, {
      method: "PATCH",
      body: { name: data.get("name").trim() },
    });
    heading.textContent = updated.name;
    setStatus(_("Saved."));
  });
  const year = document.querySelector("#new-class [name=academic_year]");
  const now = new Date();
  year.value = now.getMonth() < 3 ? now.getFullYear() - 1 : now.getFullYear(); // 年度 starts in April
  await loadClasses(schoolId);
  bindForm(document.getElementById("new-class"), async (data) => {
    const created = await api(`/api/v1/schools/${schoolId}/classes`, {
      method: "POST",
      body: {
        name: data.get("name").trim(),
        grade: whole(data.get("grade")),
        academic_year: whole(data.get("academic_year")),
      },
    });
    document.querySelector("#new-class [name=name]").value = "";
    await loadClasses(schoolId);
    setStatus(_("Class %(name)s created: class code %(code)s.", { name: created.name, code: created.class_code }));
  });
  await loadTeachers(schoolId);
  bindForm(document.getElementById("new-teacher"), async (data) => {
    const reply = await api(`/api/v1/schools/${schoolId}/teachers`, {
      method: "POST",
      body: {
        display_name: data.get("display_name").trim(),
        email: data.get("email").trim(),
        role: data.get("role"),
      },
    });
    document.getElementById("new-teacher").reset();
    await loadTeachers(schoolId);
    showOnce(
      _("%(name)s can log in with %(email)s and this password, shown only now: %(password)s", {
        name: reply.teacher.display_name,
        email: reply.teacher.email,
        password: reply.initial_password,
      }),
    );
  });
  setStatus("");
}

function showOnce(text) {
  const notice = document.querySelector("[data-teacher-status]");
  notice.textContent = text;
  notice.hidden = false;
}

async function loadClasses(schoolId) {
  const { classes } = await api(`/api/v1/schools/${schoolId}/classes`, { retries: 3 });
  const table = document.querySelector("[data-classes]");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const c of classes) {
    body.append(
      el(
        "tr",
        {},
        el("td", {}, el("a", { href: `/school/classes/${c.id}`, text: c.name })),
        el("td", { class: "num", text: formatNumber(c.grade) }),
        el("td", { class: "num", text: String(c.academic_year) }),
        el("td", {}, el("code", { text: c.class_code })),
        el("td", { class: "num", text: formatNumber(c.n_students) }),
      ),
    );
  }
  table.hidden = classes.length === 0;
  document.querySelector("[data-no-classes]").hidden = classes.length > 0;
}

async function loadTeachers(schoolId) {
  const { teachers } = await api(`/api/v1/schools/${schoolId}/teachers`, { retries: 3 });
  const table = document.querySelector("[data-teachers]");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  const me = JSON.parse(document.getElementById("cbt-user").textContent);
  for (const t of teachers) {
    const actions = el("td", { class: "actions" });
    if (!me || me.id !== t.id) {
      const reset = el("button", { type: "button", class: "small", text: _("Reset password") });
      reset.addEventListener("click", async () => {
        if (!window.confirm(_("Give %(name)s a new temporary password? Their current password stops working.", { name: t.display_name }))) return;
        try {
          const reply = await api(`/api/v1/staff/${t.id}/password-reset`, { method: "POST" });
          showOnce(_("Temporary password for %(name)s, shown only now: %(password)s", { name: t.display_name, password: reply.temporary_password }));
        } catch (failure) {
          showOnce(failureText(failure));
        }
      });
      const archive = el("button", { type: "button", class: "small", text: _("Archive") });
      archive.addEventListener("click", async () => {
        if (!window.confirm(_("Archive %(name)s? The account can no longer sign in.", { name: t.display_name }))) return;
        try {
          await api(`/api/v1/staff/${t.id}/archive`, { method: "POST" });
          await loadTeachers(schoolId);
        } catch (failure) {
          showOnce(failureText(failure));
        }
      });
      actions.append(reset, " ", archive);
    }
    body.append(
      el(
        "tr",
        {},
        el("td", { text: t.display_name }),
        el("td", { text: t.email || "–" }),
        el("td", { text: roleNames[t.role] || t.role }),
        el("td", { class: "num", text: formatNumber(t.classroom_ids.length) }),
        actions,
      ),
    );
  }
  table.hidden = teachers.length === 0;
}

const pages = { "school-list": schoolList, "school-home": schoolHome };
const page = pages[main.dataset.page];
if (page) {
  page().catch((failure) => setStatus(failureText(failure), "error"));
}
