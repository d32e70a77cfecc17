// The accommodations section of the teacher's student page (合理的配慮): extra time and the
// player's display settings, as the student's profile; later sittings start with them.
import { api, el } from "./api.js";
import { _ } from "./i18n.js";

const main = document.getElementById("main");
const form = document.getElementById("accommodations-form");
const status = form.querySelector("[data-acc-status]");
const path = `/api/v1/students/${main.dataset.studentId}/accommodations`;
const TOGGLES = ["high_contrast", "ruby", "read_aloud", "line_reader"];

function say(text, kind = "") {
  status.textContent = text;
  status.dataset.kind = kind;
}

function show(profile) {
  form.elements.extra_time_factor.value = String(profile.extra_time_factor);
  form.elements.font_size.value = profile.font_size;
  for (const name of TOGGLES) form.elements[name].checked = Boolean(profile[name]);
}

async function load() {
  try {
    const reply = await api(path, { retries: 3 });
    const select = form.elements.extra_time_factor;
    const factor = String(reply.accommodations.extra_time_factor);
    if (![...select.options].some((option) => option.value === factor)) {
      select.append(el("option", { value: factor, text: `×${factor}` }));
    }
    show(reply.accommodations);
    form.hidden = false;
  } catch (error) {
    form.hidden = false;
    form.querySelector("fieldset").disabled = true;
    say(error.message, "error");
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    extra_time_factor: Number(form.elements.extra_time_factor.value),
    font_size: form.elements.font_size.value,
  };
  for (const name of TOGGLES) body[name] = form.elements[name].checked;
  say(_("Saving…"));
  try {
    const reply = await api(path, { method: "PUT", body });
    show(reply.accommodations);
    say(_("Saved. The student's next test starts with these settings."), "ok");
  } catch (error) {
    say(error.message, "error");
  }
});

load();
