// The player's live side, beside take_test.js: a light poll of the session's status (a teacher's
// pause, resume, extra time or reset shows within seconds), time warnings at 5 and at 1 minute,
// the notice when a part ends on time, the answer being chosen kept through a pause or a reload
// (sessionStorage), and the start screen with the instructions.
import { api, ApiError, constants } from "./api.js";
import { _, formatDuration, ngettext } from "./i18n.js";

export const POLL_MS = 2500; // a teacher's action shows within 5 s
const REARM_SLACK_S = 2;

const politeRegion = document.querySelector("[data-live-polite]");
const assertiveRegion = document.querySelector("[data-live-assertive]");
const notice = document.querySelector("[data-notice]");
const timer = document.querySelector("[data-timer]");

function readStored(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key));
  } catch {
    return null;
  }
}

function writeStored(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: kept for this page only */
  }
}

// Screen readers hear a live region's new text; emptied first, so the same words are read again.
export function announce(text, urgency = "polite") {
  const region = urgency === "assertive" ? assertiveRegion : politeRegion;
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 60);
}

// A visible notice above the question (time warnings, time up, extra time).
export function showNotice(text, kind = "warn", source = "") {
  notice.textContent = text;
  notice.dataset.source = source;
  notice.dataset.kind = kind;
  notice.hidden = !text;
}

export function clearNotice(source) {
  if (notice.dataset.source === source) showNotice("");
}

// -- time warnings -------------------------------------------------------------------------------

const WARNINGS = [
  { seconds: 300, urgency: "polite", level: "soon", text: () => _("Less than 5 minutes left in this part.") },
  { seconds: 60, urgency: "assertive", level: "urgent", text: () => _("Less than 1 minute left in this part.") },
];
const warnedKey = (sessionId, section) => `cbt-warned/${sessionId}/${section}`;

// Called on every tick with the seconds left (from the server's time left, so a reload is right):
// each warning is given once per part, remembered across a reload; extra time re-arms it.
export function checkTimeWarnings(sessionId, section, left) {
  const key = warnedKey(sessionId, section);
  let given = readStored(key) || [];
  const rearmed = given.filter((seconds) => left <= seconds + REARM_SLACK_S);
  if (rearmed.length !== given.length) {
    given = rearmed;
    writeStored(key, given);
  }
  const due = WARNINGS.filter((warning) => left > 0 && left <= warning.seconds);
  if (due.length === 0) {
    delete timer.dataset.warning;
    clearNotice("warning");
    return;
  }
  const warning = due[due.length - 1];
  timer.dataset.warning = warning.level;
  if (given.includes(warning.seconds)) return;
  writeStored(
    key,
    WARNINGS.filter((w) => w.seconds >= warning.seconds).map((w) => w.seconds),
  );
  const text = `${warning.text()} ${_("Press Next to save the answer you have chosen.")}`;
  showNotice(text, warning.level === "urgent" ? "error" : "warn", "warning");
  announce(text, warning.urgency);
}

// A part ended on time: what happened and what comes next.
export function timeUp(finished, unsent = false) {
  const next = finished
    ? _("The test is over.")
    : _("The next part starts now.");
  const saved = unsent
    ? _("Time is up. The answers you sent were saved; the one on screen had not been sent.")
    : _("Time is up. Your answers were saved.");
  const text = `${saved} ${next}`;
  showNotice(text, "warn", "time-up");
  announce(text, "assertive");
  return text;
}

// Did the session move past the part on screen because its time ran out?
export function endedOnTime(previous, current) {
  if (!previous || !previous.session.deadline_at || previous.session.status !== constants.sessionStatus.ACTIVE) {
    return false;
  }
  const moved =
    current.session.status === constants.sessionStatus.EXPIRED ||
    current.session.section.index > previous.session.section.index;
  const now = Date.parse(current.session.server_time);
  return moved && now >= Date.parse(previous.session.deadline_at) - 2000;
}

// -- the answer being chosen ---------------------------------------------------------------------

const draftKey = (sessionId) => `cbt-draft/${sessionId}`;
// Form controls, and the toggle buttons (aria-pressed) of a hottext item.
const controlsOf = (box) =>
  [...box.querySelectorAll("input, select, textarea, button")].filter(
    (control) => control.localName !== "button" || control.matches(".hottext[aria-pressed]"),
  );

export function saveDraft(sessionId, handle, box) {
  const controls = controlsOf(box).map((control) => {
    if (control.localName === "button") return { pressed: control.getAttribute("aria-pressed") === "true" };
    return control.type === "checkbox" || control.type === "radio" ? { checked: control.checked } : { value: control.value };
  });
  writeStored(draftKey(sessionId), { handle, controls });
}

// Put back what was chosen for this item before a reload (a pause on reload shows no item).
export function restoreDraft(sessionId, handle, box) {
  const draft = readStored(draftKey(sessionId));
  const controls = controlsOf(box);
  if (!draft || draft.handle !== handle || draft.controls.length !== controls.length) return false;
  controls.forEach((control, index) => {
    const saved = draft.controls[index];
    if ("pressed" in saved) control.setAttribute("aria-pressed", String(Boolean(saved.pressed)));
    else if ("checked" in saved) control.checked = saved.checked;
    else control.value = saved.value;
  });
  box.dispatchEvent(new Event("change", { bubbles: true }));
  return true;
}

export const clearDraft = (sessionId) => writeStored(draftKey(sessionId), null);

// -- the poll ------------------------------------------------------------------------------------

// Polls GET /sessions/<id>/status every POLL_MS while the test runs; backs off on a lost network
// or an outage as the answer's resend does; stops when the test ends or another device takes it.
export function startPolling({ getView, headers, isBusy, onStatus, onTakenOver, isTransient, backoff }) {
  let timeout = null;
  let attempt = 0;
  let stopped = false;
  const schedule = (ms) => {
    clearTimeout(timeout);
    if (!stopped) timeout = setTimeout(tick, ms);
  };
  async function tick() {
    const view = getView();
    if (!view || view.finished) {
      stop();
      return;
    }
    if (isBusy()) {
      schedule(POLL_MS);
      return;
    }
    try {
      const status = await api(`/api/v1/sessions/${view.session.id}/status`, { headers: headers() });
      attempt = 0;
      if (!stopped && !isBusy()) await onStatus(status);
      schedule(POLL_MS);
    } catch (error) {
      if (error instanceof ApiError && error.code === constants.errorCodes.SESSION_TAKEN_OVER) {
        stop();
        onTakenOver();
        return;
      }
      schedule(isTransient(error) ? backoff(attempt, error) : backoff(attempt + 2, error));
      attempt += 1;
    }
  }
  function stop() {
    stopped = true;
    clearTimeout(timeout);
  }
  schedule(POLL_MS);
  return { stop };
}

// -- the start screen ----------------------------------------------------------------------------

// Before a new sitting: the test's name, its length, time, how to answer. Resolves when the
// student presses Start (at once when a sitting is under way: it resumes where it was).
export async function startScreen(administrationId) {
  let test = null;
  try {
    // No network (a reload offline): no instructions to fetch; the kept sitting shows instead.
    const retries = navigator.onLine === false ? 0 : 4;
    const { administrations } = await api("/api/v1/me/administrations", { retries });
    test = administrations.find((a) => String(a.administration_id) === String(administrationId));
  } catch {
    return; // the server's own answer to starting says what is wrong
  }
  if (!test || test.session_status) return;
  const intro = document.querySelector("[data-intro]");
  intro.querySelector("[data-intro-title]").textContent = test.title;
  intro.querySelector("[data-intro-name]").textContent = test.name;
  const adaptive = test.mode === "cat";
  intro.querySelector("[data-intro-questions]").textContent = adaptive
    ? ngettext(
        "Adaptive: up to %(n)s question, chosen one by one to suit your answers.",
        "Adaptive: up to %(n)s questions, chosen one by one to suit your answers.",
        test.max_items,
      )
    : ngettext("%(n)s question.", "%(n)s questions.", test.max_items);
  intro.querySelector("[data-intro-time]").textContent = test.time_limit_seconds
    ? _("Time limit: %(time)s. The clock starts when you start the test.", {
        time: formatDuration(test.time_limit_seconds),
      })
    : _("There is no time limit.");
  const forwardOnly = intro.querySelector("[data-intro-forward-only]");
  forwardOnly.hidden = !(adaptive || test.mode === "mixed");
  if (test.mode === "mixed") forwardOnly.textContent = _("In the adaptive parts you cannot go back to earlier questions.");
  document.querySelector("[data-status]").textContent = "";
  intro.hidden = false;
  intro.querySelector("[data-intro-title]").focus();
  intro.querySelector("[data-intro-free]").hidden = !test.free_navigation;
  practise(intro.querySelector("[data-practice]"));
  const button = intro.querySelector("[data-intro-start]");
  await new Promise((resolve) => button.addEventListener("click", resolve, { once: true }));
  intro.hidden = true;
}

// The practice question on the start screen: checked here in the page, never sent or recorded
// (it is a fixed question of the template, not an item of the bank).
function practise(box) {
  const feedback = box.querySelector("[data-practice-feedback]");
  box.querySelector("[data-practice-check]").addEventListener("click", () => {
    const picked = box.querySelector("input:checked");
    if (!picked) {
      feedback.dataset.kind = "bad";
      feedback.textContent = _("Choose an answer first.");
    } else if (picked.hasAttribute("data-practice-right")) {
      feedback.dataset.kind = "ok";
      feedback.textContent = _("Right! 2 + 3 = 5. In the test you choose an answer the same way.");
    } else {
      feedback.dataset.kind = "bad";
      feedback.textContent = _("Not quite: 2 + 3 = 5. Try again, or start the test.");
    }
  });
}
