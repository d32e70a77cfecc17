// The test player. The server decides everything (next item, time, the end); this page shows it,
// keeps an unacknowledged answer in localStorage and resends it with the same idempotency key
// until the server acknowledges it, so a dropped network or a reload never loses an answer.
import {
  api,
  ApiError,
  constants,
  isOffline,
  isTransient,
  NetworkError,
  randomKey,
  resendDelay,
  setStatus,
  sleepUntilOnline,
} from "./api.js";
import { renderItem } from "./item_render.js";
import { applyAccommodations } from "./accommodations.js";
import { _, formatNumber, ngettext } from "./i18n.js";
import * as controls from "./player_controls.js";
import { createFreeSection, isFree } from "./navigator.js";
import * as offline from "./offline.js";

const codes = constants.errorCodes;
const main = document.getElementById("main");
const administrationId = main.dataset.administrationId;
const form = document.getElementById("item-form");
const itemBox = form.querySelector("[data-item]");
let rendered = null; // { read() } of the item on screen
const next = form.querySelector("[data-next]");
const progress = document.querySelector("[data-progress]");
const timer = document.querySelector("[data-timer]");
const end = document.querySelector("[data-end]");
const pausedOverlay = document.querySelector("[data-paused]");
const resetScreen = document.querySelector("[data-reset]");
const forwardOnly = document.querySelector("[data-forward-only]");
const navigatorBox = document.querySelector("[data-navigator]");
const reviewScreen = document.querySelector("[data-review-screen]");

let view = null;
let deadline = null; // client clock, display only; the server enforces time
let ticker = null;
let deviceToken = ""; // proves this tab holds the session; another device taking over voids it
let poller = null; // the status poll (player_controls.js): a teacher's actions show within 5 s
let onScreen = null; // the handle of the item whose controls are on screen
let submitting = false;
const sessionHeaders = () => ({ "X-Device-Token": deviceToken });

const pendingKey = (sessionId) => `cbt:pending:${sessionId}`;

function loadPending(sessionId) {
  try {
    return JSON.parse(localStorage.getItem(pendingKey(sessionId)));
  } catch {
    return null;
  }
}

function savePending(sessionId, pending) {
  try {
    localStorage.setItem(pendingKey(sessionId), JSON.stringify(pending));
  } catch {
    /* private mode: the answer is still retried from memory */
  }
}

function clearPending(sessionId) {
  try {
    localStorage.removeItem(pendingKey(sessionId));
  } catch {
    /* ignore */
  }
}

const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;

function showTimer(session) {
  clearInterval(ticker);
  if (session.remaining_seconds === null || session.remaining_seconds === undefined) {
    timer.hidden = true;
    return;
  }
  deadline = Date.now() + session.remaining_seconds * 1000;
  timer.hidden = false;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    timer.textContent = _("%(time)s left", { time: clock(left) });
    controls.checkTimeWarnings(session.id, session.section.index, left);
    if (left === 0) {
      clearInterval(ticker);
      refresh();
    }
  };
  tick();
  ticker = setInterval(tick, 1000);
}

function showPaused(session) {
  clearInterval(ticker);
  if (session.remaining_seconds !== null && session.remaining_seconds !== undefined) {
    timer.hidden = false; // the clock stands still while paused
    timer.textContent = _("%(time)s left", { time: clock(session.remaining_seconds) });
  }
  // The item and the answer being chosen stay on the page, out of reach until the resume.
  form.inert = true;
  navigatorBox.inert = true;
  reviewScreen.inert = true;
  form.hidden = !onScreen || !reviewScreen.hidden;
  next.textContent = _("Next");
  setStatus("");
  if (pausedOverlay.hidden) {
    pausedOverlay.hidden = false;
    pausedOverlay.querySelector("h2").focus();
    controls.announce(_("Your teacher paused the test"), "assertive");
  }
}

function hidePaused() {
  if (pausedOverlay.hidden) return false;
  pausedOverlay.hidden = true;
  form.inert = false;
  navigatorBox.inert = false;
  reviewScreen.inert = false;
  controls.announce(_("Your teacher resumed the test."), "polite");
  return true;
}

function showReset(session) {
  clearInterval(ticker);
  poller?.stop();
  clearPending(session.id);
  controls.clearDraft(session.id);
  pausedOverlay.hidden = true;
  form.hidden = true;
  form.inert = false;
  free.leave();
  itemBox.replaceChildren(); // nothing of the voided sitting stays on screen
  rendered = null;
  onScreen = null;
  timer.hidden = true;
  forwardOnly.hidden = true;
  progress.textContent = "";
  controls.showNotice("");
  setStatus("");
  resetScreen.querySelector("[data-reset-again]").href = window.location.pathname;
  resetScreen.hidden = false;
  resetScreen.querySelector("h1").focus();
}

function render(newView) {
  const previous = view;
  view = newView;
  const session = view.session;
  keepForOffline(view);
  if (session.status === constants.sessionStatus.RESET) {
    showReset(session);
    return;
  }
  if (!poller && !view.finished && !view.offline) {
    poller = controls.startPolling({
      getView: () => view,
      headers: sessionHeaders,
      isBusy: () => submitting,
      onStatus,
      onTakenOver: takenOver,
      isTransient,
      backoff: resendDelay,
    });
  }
  if (session.status === constants.sessionStatus.PAUSED) {
    showPaused(session);
    return;
  }
  const resumed = hidePaused();
  const onTime = controls.endedOnTime(previous, view);
  // An answer chosen on the part that ran out but never sent: the notice must not say it was saved.
  const unsent = onTime && rendered !== null && onScreen !== null && !isEmpty(rendered.read());
  if (view.finished) {
    if (previous?.finished) return; // already on the end screen (the clock and the poll both ask)
    clearInterval(ticker);
    poller?.stop();
    clearPending(session.id);
    controls.clearDraft(session.id);
    free.leave();
    form.hidden = true;
    timer.hidden = true;
    forwardOnly.hidden = true;
    onScreen = null;
    setStatus("");
    if (onTime) controls.timeUp(true, unsent);
    else controls.showNotice("");
    end.hidden = false;
    end.querySelector("h1").focus();
    const answered = ngettext(
      "You answered %(n)s question. Your teacher will see your result.",
      "You answered %(n)s questions. Your teacher will see your result.",
      session.n_answered,
    );
    end.querySelector("[data-end-detail]").textContent =
      session.status === constants.sessionStatus.EXPIRED
        ? _("Time ran out. %(answered)s", { answered })
        : answered;
    showResult(view.result);
    progress.textContent = "";
    return;
  }
  const partText = (question) =>
    session.section.count > 1
      ? _("Part %(index)s of %(count)s · %(question)s", {
          index: session.section.index,
          count: session.section.count,
          question,
        })
      : question;
  if (isFree(view)) {
    // Free navigation: the navigator, Previous/Next, flags and the review (navigator.js).
    progress.textContent = session.section.count > 1
      ? _("Part %(index)s of %(count)s", { index: session.section.index, count: session.section.count })
      : "";
    forwardOnly.hidden = true;
    setStatus("");
    if (onTime) controls.timeUp(false, unsent);
    showTimer(session);
    rendered = null;
    free.show(view).then(() => {
      onScreen = free.currentHandle();
    });
    return;
  }
  free.leave();
  const item = view.item;
  const question = _("Question %(sequence)s (up to %(max)s)", { sequence: item.sequence, max: session.max_items });
  progress.textContent = partText(question);
  const sameItem = onScreen === item.handle && rendered !== null;
  if (!sameItem) {
    rendered = renderItem(itemBox, item); // every item type; its HTML was sanitised by the server
    onScreen = item.handle;
    controls.restoreDraft(session.id, item.handle, itemBox);
  }
  applyAccommodations(view); // font size, contrast, ruby, read-aloud, line reader
  next.disabled = isEmpty(rendered.read()); // an ordering item is answered as first shown
  next.textContent = _("Next");
  form.hidden = false;
  forwardOnly.hidden = session.section.kind !== "cat";
  setStatus("");
  if (onTime) controls.timeUp(false, unsent);
  else if (!sameItem) controls.clearNotice("time-up");
  showTimer(session);
  if (!sameItem || resumed) {
    (itemBox.querySelector("input:checked") || itemBox.querySelector("input, select, textarea, button"))?.focus();
  }
}

// The score and band, when the test definition lets the end screen show them.
function showResult(result) {
  const box = end.querySelector("[data-end-result]");
  box.hidden = !result;
  if (!result) return;
  const score = box.querySelector("[data-end-score]");
  const range = box.querySelector("[data-end-range]");
  const band = box.querySelector("[data-end-band]");
  const hasScore = result.scale_score !== undefined && result.scale_score !== null;
  score.hidden = range.hidden = !hasScore;
  if (hasScore) {
    const round = (value) => formatNumber(Math.round(value));
    score.textContent = _("Your score: %(score)s", { score: round(result.scale_score) });
    // Two standard errors either side: where the student's score very probably lies.
    range.textContent = _(
      "A score is an estimate from your answers. Yours is very likely between %(low)s and %(high)s.",
      { low: round(result.scale_score - 2 * result.scale_se), high: round(result.scale_score + 2 * result.scale_se) },
    );
  }
  band.hidden = !result.band;
  if (result.band) band.textContent = _("Your level: %(band)s", { band: result.band });
}

// What the poll found: anything beyond the clock is fetched whole and shown.
async function onStatus(status) {
  const session = view.session;
  if (
    status.status !== session.status ||
    status.section !== session.section.index ||
    status.n_answered !== session.n_answered
  ) {
    await refresh();
    return;
  }
  if (status.remaining_seconds === null || session.remaining_seconds === null) return;
  const expected =
    session.status === constants.sessionStatus.ACTIVE && deadline !== null
      ? (deadline - Date.now()) / 1000
      : session.remaining_seconds;
  const gained = status.remaining_seconds - expected;
  if (Math.abs(gained) <= 3) return;
  session.remaining_seconds = status.remaining_seconds;
  // The server's own clock, so that a part ending later is told apart from one ending on time.
  session.deadline_at = new Date(Date.parse(status.server_time) + status.remaining_seconds * 1000).toISOString();
  if (session.status === constants.sessionStatus.ACTIVE) showTimer(session);
  else timer.textContent = _("%(time)s left", { time: clock(status.remaining_seconds) });
  if (gained > 0) {
    const text = _("Your teacher gave you more time. %(time)s left.", {
      time: clock(status.remaining_seconds),
    });
    controls.showNotice(text, "ok");
    controls.announce(text, "polite");
  }
}

async function untilDelivered(call, waitingText, offlineText = waitingText) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw error;
      const delay = resendDelay(attempt, error);
      const again = _("Trying again in %(seconds)s s.", { seconds: Math.ceil(delay / 1000) });
      setStatus(`${isOffline(error) ? offlineText : waitingText} ${again}`, "warn");
      main.dataset.waiting = "true"; // for the page's own tests: the player is waiting to resend
      await sleepUntilOnline(delay); // the network coming back ends the wait
    } finally {
      delete main.dataset.waiting;
    }
  }
}

// The one function that sends an answer: kept until the server acknowledges it, resent with the
// same idempotency key through an outage; resolves with the server's view (or throws).
async function sendAnswer(pending) {
  const sessionId = view.session.id;
  savePending(sessionId, pending);
  submitting = true;
  try {
    const result = await untilDelivered(
      () =>
        api(`/api/v1/sessions/${sessionId}/responses`, {
          method: "POST",
          body: { item: pending.item, response: pending.response, idempotency_key: pending.key },
          headers: sessionHeaders(),
        }),
      _("The server cannot be reached right now. Your answer is kept."),
      _("No network: waiting for the connection to come back. Your answer is kept on this device and sent then."),
    );
    clearPending(sessionId);
    return result;
  } finally {
    submitting = false;
  }
}

async function submit(pending) {
  submitting = true;
  next.disabled = true;
  next.textContent = _("Saving…");
  try {
    render(await sendAnswer(pending));
  } catch (error) {
    await answerRefused(error);
  } finally {
    submitting = false;
  }
}

// What to do when the server refuses an answer (or a flag or a submit).
async function answerRefused(error) {
  if (error instanceof ApiError && error.code === codes.TIME_EXPIRED) {
    clearPending(view.session.id);
    setStatus(_("Time ran out for that question; the answer was not recorded."), "warn");
    await refresh();
  } else if (error instanceof ApiError && error.code === codes.SESSION_TAKEN_OVER) {
    takenOver();
  } else if (error instanceof ApiError && error.code === codes.SESSION_PAUSED) {
    await refresh();
  } else if (error instanceof ApiError && error.code === codes.ALREADY_ANSWERED) {
    clearPending(view.session.id);
    await start();
  } else {
    setStatus(error.message, "error");
    next.disabled = false;
    next.textContent = _("Next");
    if (error instanceof ApiError && error.status === 409) await refresh(); // reset, ended
  }
}

// Ask the server where the session stands (it ends timed-out parts, reports pauses).
async function refresh() {
  if (!view || view.offline) return; // the kept view: start() asks the server when it can
  try {
    render(
      await api(`/api/v1/sessions/${view.session.id}`, { headers: sessionHeaders(), retries: 8 }),
    );
  } catch (error) {
    if (error instanceof ApiError && error.code === codes.SESSION_TAKEN_OVER) takenOver();
    else setStatus(error.message, "error");
  }
}

function takenOver() {
  clearInterval(ticker);
  poller?.stop();
  form.hidden = true;
  setStatus(_("This test is now open on another device. Reload this page to continue here."), "error");
}

async function start() {
  try {
    const started = await untilDelivered(
      () =>
        api(`/api/v1/administrations/${administrationId}/sessions`, { method: "POST" }).catch(async (error) => {
          await showKeptView(error);
          throw error;
        }),
      _("The server cannot be reached right now."),
      _("No network. You can go on with the question on screen; it is sent when the connection is back."),
    );
    deviceToken = started.session.device_token || deviceToken;
    outbox?.resume(); // answers kept through a reload offline go now, with the device token
    render(started);
    const pending = loadPending(started.session.id);
    const inSection = (started.section?.items || []).some((entry) => entry.handle === pending?.item);
    if (pending && isFree(started) && inSection) {
      // An answer from before a reload, in a free section: send it again, same key.
      try {
        render(await sendAnswer(pending));
      } catch (error) {
        await answerRefused(error);
      }
    } else if (pending && started.item && pending.item === started.item.handle) {
      // An answer from before a reload or a lost connection: send it again, same key.
      await submit(pending);
    } else if (pending) {
      clearPending(started.session.id);
    }
  } catch (error) {
    setStatus(error.message, "error");
  }
}

// Next is offered once the item holds an answer of its kind.
function isEmpty(response) {
  if (response === null || response === undefined) return true;
  return Object.values(response).every(
    (value) =>
      value === "" ||
      (Array.isArray(value) && value.length === 0) ||
      (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0),
  );
}
const answerChanged = () => {
  if (free.active()) return; // saved on leaving the question (navigator.js)
  next.disabled = !rendered || isEmpty(rendered.read());
  if (view && onScreen) controls.saveDraft(view.session.id, onScreen, itemBox);
};
itemBox.addEventListener("input", answerChanged);
itemBox.addEventListener("change", answerChanged);
itemBox.addEventListener("click", answerChanged);

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (free.active()) {
    free.next();
    return;
  }
  const response = rendered ? rendered.read() : null;
  if (isEmpty(response) || !view || !view.item) return;
  const stored = loadPending(view.session.id);
  const sameItem = stored && stored.item === view.item.handle;
  const pending = {
    item: view.item.handle,
    response,
    key: sameItem ? stored.key : randomKey(),
  };
  if (view.offline) keepForLater(pending);
  else submit(pending);
});

const free = createFreeSection({
  elements: {
    form,
    itemBox,
    navigator: navigatorBox,
    review: reviewScreen,
    number: form.querySelector("[data-question-number]"),
  },
  headers: sessionHeaders,
  // Offline (offline.js): the items prefetched and kept, each change through the outbox.
  sendAnswer: sendFreeAnswer,
  loadItems: loadFreeItems,
  sendFlag: sendFreeFlag,
  sendSubmit: sendFreeSubmit,
  quiet: true, // the outbox's own line says saving, saved or offline
  renderItem,
  untilDelivered: (call) => untilDelivered(call, _("The server cannot be reached right now.")),
  onView: render,
  remember: (shown) => {
    view = shown;
    keepForOffline(shown);
  },
  onError: answerRefused,
  isEmpty,
  newKey: randomKey,
  announce: (text) => controls.announce(text, "polite"),
  afterShow: (item) => applyAccommodations({ ...view, item }),
});

// -- offline (offline.js, docs/offline.md) -------------------------------------------------------

// Every view the server sends is kept on this device; an ended or reset sitting is forgotten.
function keepForOffline(shown) {
  if (shown.offline) return;
  const over = shown.finished || shown.session.status === constants.sessionStatus.RESET;
  if (over) offline.forgetView(administrationId);
  else offline.keepView(administrationId, shown);
}

// A reload with no network: the view kept on this device, until start() reaches the server.
async function showKeptView(error) {
  if (view || !isTransient(error)) return;
  const kept = await offline.loadView(administrationId);
  if (kept && !view) render({ ...kept.view, offlineItems: kept.items });
}

// An answer given on the kept view of a forward part: stored as the one pending answer, sent by
// start() (with the sitting's device token) once the server is reached.
function keepForLater(pending) {
  savePending(view.session.id, pending);
  next.disabled = true;
  setStatus(
    _("No network: waiting for the connection to come back. Your answer is kept on this device and sent then."),
    "warn",
  );
}

// -- a free part offline: its items prefetched, every change through the outbox ----------------

let outbox = null; // the OfflineSection of the sitting's free part

function outboxOf(sessionId) {
  if (outbox?.sessionId !== sessionId) {
    outbox = new offline.OfflineSection({
      administrationId,
      sessionId,
      send: outboxSend,
      onReply: (entry, reply) => entry.kind === "submit" && reply?.session && render(reply),
      onRefused: (entry, error) => answerRefused(error),
      onStop: takenOver,
    });
  }
  return outbox;
}

// The outbox sends with the sitting's device token, which a reload offline has not got yet:
// until start() reaches the server, a send counts as a lost connection and is tried again.
function outboxSend(path, method, body) {
  if (!deviceToken) return Promise.reject(new NetworkError(_("The connection to the server was lost.")));
  return api(path, { method, body, headers: sessionHeaders() });
}

// The part's items: from the server (kept here, media prefetched), or kept ones after a reload.
async function loadFreeItems(shown) {
  outboxOf(shown.session.id).resume(); // what an earlier page left
  if (shown.offlineItems) return { items: shown.offlineItems };
  return offline.prefetchSection(administrationId, shown, sessionHeaders);
}

// The view as it is on this device after a change the outbox has not sent yet.
function localView(handle, change) {
  const items = view.section.items.map((entry) => (entry.handle === handle ? { ...entry, ...change } : entry));
  const section = { ...view.section, items };
  const open = items.find((entry) => !entry.answered);
  const item = open ? { handle: open.handle, number: open.number } : null; // where a reload resumes
  return { ...view, section, session: { ...view.session, section }, item };
}

async function sendFreeAnswer(pending) {
  await outboxOf(view.session.id).answer(pending.item, pending.response, pending.key);
  return localView(pending.item, { answered: true });
}

async function sendFreeFlag(handle, flagged) {
  await outboxOf(view.session.id).flag(handle, flagged);
  return localView(handle, { flagged });
}

// The submission waits behind the part's answers; with no network it waits for it, and says so.
function sendFreeSubmit(key) {
  setStatus(_("Submitting this part. Your answers are sent first; with no network this waits for the connection."), "warn");
  return outboxOf(view.session.id).submit(key);
}

controls.startScreen(administrationId).then(start);
offline.registerPlayerWorker();
