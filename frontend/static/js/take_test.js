// The test player. The server decides everything (next item, time, the end); this page shows it,
// keeps an unacknowledged answer in localStorage and resends it with the same idempotency key
// until the server acknowledges it, so a dropped network or a reload never loses an answer.
import {
  api,
  ApiError,
  constants,
  isOffline,
  NetworkError,
  isTransient,
  randomKey,
  resendDelay,
  setStatus,
  sleepUntilOnline,
} from "./api.js";
import { renderItem } from "./item_render.js";
import { applyAccommodations } from "./accommodations.js";
import { _, ngettext } from "./i18n.js";
import * as controls from "./player_controls.js";
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
  form.hidden = !onScreen;
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
  newView = withPartItem(newView); // a free linear part: the question the student is on
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
    progress.textContent = "";
    return;
  }
  const item = view.item;
  if (!item) return; // a free part with every question answered, before its items arrive
  const question = _("Question %(sequence)s (up to %(max)s)", { sequence: item.sequence, max: session.max_items });
  progress.textContent =
    session.section.count > 1
      ? _("Part %(index)s of %(count)s · %(question)s", {
          index: session.section.index,
          count: session.section.count,
          question,
        })
      : question;
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

// What the poll found: anything beyond the clock is fetched whole and shown.
async function onStatus(status) {
  const session = view.session;
  if (
    status.status !== session.status ||
    status.section !== session.section.index ||
    (status.n_answered !== session.n_answered && !isFreePart(view)) // a free part: the outbox's
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

async function submit(pending) {
  submitting = true;
  next.disabled = true;
  next.textContent = _("Saving…");
  savePending(view.session.id, pending);
  try {
    const result = await untilDelivered(
      () =>
        api(`/api/v1/sessions/${view.session.id}/responses`, {
          method: "POST",
          body: { item: pending.item, response: pending.response, idempotency_key: pending.key },
          headers: sessionHeaders(),
        }),
      _("The server cannot be reached right now. Your answer is kept."),
      _("No network: waiting for the connection to come back. Your answer is kept on this device and sent then."),
    );
    clearPending(view.session.id);
    render(result);
  } catch (error) {
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
  } finally {
    submitting = false;
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
    render(started);
    const pending = loadPending(started.session.id);
    if (pending && started.item && pending.item === started.item.handle) {
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
  next.disabled = !rendered || isEmpty(rendered.read());
  if (view && onScreen) controls.saveDraft(view.session.id, onScreen, itemBox);
};
itemBox.addEventListener("input", answerChanged);
itemBox.addEventListener("change", answerChanged);
itemBox.addEventListener("click", answerChanged);

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const response = rendered ? rendered.read() : null;
  if (isEmpty(response) || !view || !view.item) return;
  const stored = loadPending(view.session.id);
  const sameItem = stored && stored.item === view.item.handle;
  const pending = {
    item: view.item.handle,
    response,
    key: sameItem ? stored.key : randomKey(),
  };
  if (part && isFreePart(view)) answerInFreePart(pending);
  else if (view.offline) keepForLater(pending);
  else submit(pending);
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

// An answer given on the kept view: stored as the one pending answer, sent by start() (with the
// sitting's device token) once the server is reached.
function keepForLater(pending) {
  savePending(view.session.id, pending);
  next.disabled = true;
  setStatus(
    _("No network: waiting for the connection to come back. Your answer is kept on this device and sent then."),
    "warn",
  );
}

// -- a free linear part: every question prefetched, every change through the outbox ------------

let part = null; // { sessionId, index, items, current, outbox } of the free part on screen

const isFreePart = (shown) => shown?.section?.navigation === "free" && !shown.finished;

// The outbox sends with the sitting's device token, which a reload offline has not got yet:
// until start() reaches the server, a send counts as a lost connection and is tried again.
function outboxSend(path, method, body) {
  if (!deviceToken) return Promise.reject(new NetworkError(_("The connection to the server was lost.")));
  return api(path, { method, body, headers: sessionHeaders() });
}

// Entering a free part: its outbox (sending what an earlier page left) and its items, from the
// server, or from this device when the view is the kept one.
function openFreePart(shown, items) {
  const index = shown.session.section.index;
  if (part && part.sessionId === shown.session.id && part.index === index) {
    if (!shown.offline) part.outbox.resume(); // the server is reached: send now
    return;
  }
  part = {
    sessionId: shown.session.id,
    index,
    items: items || null,
    current: shown.item,
    offset: shown.item ? shown.item.sequence - shown.item.number : 0, // questions of earlier parts
    outbox: new offline.OfflineSection({
      administrationId,
      sessionId: shown.session.id,
      send: outboxSend,
      onReply: (entry, reply) => {
        if (entry.kind !== "submit") return;
        if (reply?.session) render(reply); // the next part, or the end
        else refresh();
      },
      onRefused: (entry, error) => partRefused(entry, error),
      onStop: takenOver,
    }),
  };
  part.outbox.resume();
  if (!shown.offline) {
    offline
      .prefetchSection(administrationId, shown, sessionHeaders)
      .then((fetched) => {
        if (part?.sessionId !== shown.session.id || part.index !== index) return;
        part.items = fetched;
        if (!part.current) render(view); // every question answered: the last one, to submit
      })
      .catch(() => null); // no prefetch: the part still goes on online, one answer at a time
  }
}

// A view of the part shows the question the student is on here, not the server's first one.
function withPartItem(shown) {
  if (!isFreePart(shown)) {
    if (shown.finished || shown.session.section.index !== part?.index) part = null;
    return shown;
  }
  openFreePart(shown, shown.offlineItems);
  if (!part.current && part.items?.length) part.current = partItem(part.items[part.items.length - 1]);
  return part.current ? { ...shown, item: part.current } : shown;
}

const partItem = (item) => ({ ...item, sequence: part.offset + item.number });

async function answerInFreePart(pending) {
  const shown = view;
  await part.outbox.answer(pending.item, pending.response, pending.key);
  const listed = shown.section.items?.find((item) => item.handle === pending.item);
  if (listed) listed.answered = true;
  const items = part.items || [];
  const position = items.findIndex((item) => item.handle === pending.item);
  const following = position >= 0 ? items[position + 1] : undefined;
  if (following) {
    part.current = partItem(following);
    render(shown);
  } else if (position >= 0) {
    await submitFreePart();
  } else {
    submit(pending); // not prefetched (it failed): answered online, as before
  }
}

// The part's submission waits behind its answers; with no network it waits for it, and says so.
async function submitFreePart() {
  form.inert = true;
  setStatus(_("Submitting this part. Your answers are sent first; with no network this waits for the connection."), "warn");
  // One key per part, the same after a reload: a second key would submit the next part too.
  await part.outbox.submit(`part-${part.sessionId}-${part.index}`);
  form.inert = false;
}

function partRefused(entry, error) {
  if (error.code === codes.TIME_EXPIRED) {
    setStatus(_("Time ran out for that question; the answer was not recorded."), "warn");
  } else {
    setStatus(error.message, "error");
  }
  refresh();
}

controls.startScreen(administrationId).then(start);
offline.registerPlayerWorker();
