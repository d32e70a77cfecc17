// Staggered starts on the operators' administrations page: a start time per school or class.
import { api, ApiError, el } from "./api.js";
import { _ } from "./i18n.js";

const picker = document.querySelector("[data-sw-administration]");
const form = document.querySelector("[data-sw-form]");
const rows = document.querySelector("[data-sw-rows]");
const error = document.querySelector("[data-sw-error]");
const status = document.querySelector("[data-sw-status]");

// datetime-local wants the local wall time, without a zone.
function localValue(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const shifted = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function row(label, kind, id, value, indent) {
  const inputId = `sw-${kind}-${id}`;
  const input = el("input", { id: inputId, type: "datetime-local", "data-kind": kind, "data-id": String(id) });
  input.value = localValue(value);
  const name = el("label", { for: inputId, text: label });
  if (indent) name.classList.add("indent");
  return el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, input));
}

async function show(administrationId) {
  error.textContent = "";
  status.textContent = "";
  if (!administrationId) {
    form.hidden = true;
    return;
  }
  const data = await api(`/api/v1/administrations/${administrationId}/start-windows`, { retries: 2 });
  const set = new Map(data.start_windows.map((w) => [w.classroom_id ? `c${w.classroom_id}` : `s${w.school_id}`, w.starts_at]));
  rows.replaceChildren();
  for (const school of data.schools) {
    rows.append(row(_("School: %(name)s", { name: school.name }), "school", school.id, set.get(`s${school.id}`), false));
    for (const classroom of data.classrooms.filter((c) => c.school_id === school.id)) {
      rows.append(row(_("Class: %(name)s", { name: classroom.name }), "classroom", classroom.id, set.get(`c${classroom.id}`), true));
    }
  }
  form.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  status.textContent = "";
  const windows = [];
  for (const input of rows.querySelectorAll("input[type=datetime-local]")) {
    if (!input.value) continue;
    const starts_at = new Date(input.value).toISOString();
    const id = Number(input.dataset.id);
    windows.push(input.dataset.kind === "school" ? { school_id: id, starts_at } : { classroom_id: id, starts_at });
  }
  try {
    await api(`/api/v1/administrations/${picker.value}/start-windows`, { method: "PUT", body: { start_windows: windows } });
    status.textContent = _("Start times saved.");
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? failure.message : _("Cannot reach the server. Try again.");
  }
});

picker.addEventListener("change", () => show(picker.value).catch((failure) => (error.textContent = failure.message)));

async function start() {
  const { administrations } = await api("/api/v1/administrations", { retries: 2 });
  picker.replaceChildren(
    el("option", { value: "", text: _("Choose an administration") }),
    ...administrations.map((a) => el("option", { value: String(a.id), text: a.name })),
  );
}

start().catch((failure) => (error.textContent = failure.message));
