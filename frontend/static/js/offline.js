// The player through a network loss (docs/offline.md): the service worker that keeps the
// player's shell (sw.js), a snapshot of what was on screen so a reload offline reopens the test,
// the prefetch of a free linear part with its media, and the save state the student sees.
// Answers themselves go through the outbox in answer_queue.js.
import { api, currentUser } from "./api.js";
import { AnswerQueue, apiSender, saveStateText, withStore } from "./answer_queue.js";

const SNAPSHOT_MAX_AGE_MS = 12 * 60 * 60 * 1000; // a day's sitting; older ones are not shown

// -- the service worker --------------------------------------------------------------------------

// Registered by the player only; needs a secure context (https, or localhost): on a plain-http
// school server there is no worker, and a reload offline shows the browser's own page.
export async function registerPlayerWorker() {
  if (!("serviceWorker" in navigator)) return false;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    const registration = await navigator.serviceWorker.ready;
    // What this page loaded before the worker controlled it: the page and its code and catalog.
    const loaded = performance.getEntriesByType("resource").map((entry) => entry.name);
    registration.active?.postMessage({ type: "keep-shell", urls: [window.location.href, ...loaded] });
    return true;
  } catch {
    return false; // storage refused (private mode, quota): the player works online as before
  }
}

async function keepMedia(urls) {
  if (!urls.length || !("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration("/");
  registration?.active?.postMessage({ type: "keep-media", urls });
}

// -- the snapshot of the screen ------------------------------------------------------------------

const snapshotId = (administrationId) => `${currentUser?.id ?? "-"}/${administrationId}`;

// The last view the server sent (the student's own: no keys ever reach a student view), and the
// prefetched part's items, so a reload without a network shows the test where it was.
export async function keepView(administrationId, view, items = undefined) {
  try {
    await withStore("snapshots", "readwrite", (store) => {
      const id = snapshotId(administrationId);
      const read = store.get(id);
      read.onsuccess = () => {
        const old = read.result;
        const sameSection = old && old.view.session.id === view.session.id && old.view.session.section.index === view.session.section.index;
        store.put({ id, view, items: items ?? (sameSection ? old.items : null), savedAt: Date.now() });
      };
      return null;
    });
  } catch {
    /* no IndexedDB: nothing to reopen offline */
  }
}

export async function forgetView(administrationId) {
  try {
    await withStore("snapshots", "readwrite", (store) => store.delete(snapshotId(administrationId)));
  } catch {
    /* ignore */
  }
}

// The kept view with its clock moved on by the time since it was kept (display only: the
// server enforces time), or null.
export async function loadView(administrationId) {
  let snapshot = null;
  try {
    snapshot = await withStore("snapshots", "readonly", (store) => store.get(snapshotId(administrationId)));
  } catch {
    return null;
  }
  if (!snapshot || Date.now() - snapshot.savedAt > SNAPSHOT_MAX_AGE_MS) return null;
  const view = structuredClone(snapshot.view);
  const session = view.session;
  if (typeof session.remaining_seconds === "number" && session.status === "active") {
    const elapsed = Math.round((Date.now() - snapshot.savedAt) / 1000);
    session.remaining_seconds = Math.max(0, session.remaining_seconds - elapsed);
    session.server_time = new Date().toISOString();
  }
  view.offline = true; // shown from this device, not from the server
  return { view, items: snapshot.items };
}

// Update one item of the kept part (an answer or a flag given offline), so a reload shows it.
async function keepItemChange(administrationId, handle, change) {
  try {
    await withStore("snapshots", "readwrite", (store) => {
      const read = store.get(snapshotId(administrationId));
      read.onsuccess = () => {
        const snapshot = read.result;
        if (!snapshot) return;
        if (snapshot.items) snapshot.items = snapshot.items.map((item) => (item.handle === handle ? { ...item, ...change } : item));
        const listed = snapshot.view.section?.items;
        if (listed) {
          const summary = {};
          if ("response" in change) summary.answered = change.response !== null;
          if ("flagged" in change) summary.flagged = change.flagged;
          snapshot.view.section.items = listed.map((item) => (item.handle === handle ? { ...item, ...summary } : item));
        }
        store.put(snapshot);
      };
      return null;
    });
  } catch {
    /* ignore: the outbox still has it */
  }
}

// -- the save state ------------------------------------------------------------------------------

let stateBox = null;

// "Saving", "saved" or "offline, N answers waiting", read out by screen readers (role=status).
export function showSaveState(state, waiting = 0) {
  if (!stateBox) {
    stateBox = document.createElement("p");
    stateBox.classList.add("save-state", "status");
    stateBox.setAttribute("role", "status");
    stateBox.dataset.saveState = "";
    const bar = document.querySelector(".player-bar");
    if (bar) bar.after(stateBox);
    else document.getElementById("main").append(stateBox);
  }
  const text = saveStateText(state, waiting);
  stateBox.textContent = text;
  stateBox.hidden = !text;
  stateBox.dataset.saveState = state;
  stateBox.dataset.waiting = String(waiting);
  stateBox.dataset.kind = state === "saved" ? "ok" : state === "saving" ? "" : "warn";
}

export function hideSaveState() {
  if (stateBox) stateBox.hidden = true;
}

// -- a free linear part --------------------------------------------------------------------------

const mediaOf = (reply) => [
  ...(reply.media || []),
  ...(reply.items || []).flatMap((item) => item.media || []),
];

// The whole part at once (the student view: sanitised, no keys), its media asked of the worker
// and the lot kept on this device, so the student can go on answering through a network loss.
export async function prefetchSection(administrationId, view, headers) {
  const reply = await api(`/api/v1/sessions/${view.session.id}/section/items`, { headers: headers(), retries: 8 });
  await keepView(administrationId, view, reply.items);
  keepMedia(mediaOf(reply));
  return reply;
}

// The answers, flags and submission of a free part, each kept locally and sent through the
// outbox; the student sees the change at once, the server gets it exactly once.
export class OfflineSection {
  // send(path, method, body) defaults to the page's api() with headers(); the player passes its
  // own, which waits for the sitting's device token after a reload offline.
  constructor({ administrationId, sessionId, headers, send, onReply = () => {}, onRefused = () => {}, onStop }) {
    this.administrationId = administrationId;
    this.sessionId = sessionId;
    this.waiters = new Map(); // submit key -> { resolve, reject } of a submit() still waiting
    const waiter = (entry) => {
      const found = entry.kind === "submit" ? this.waiters.get(entry.key) : undefined;
      if (found) this.waiters.delete(entry.key);
      return found;
    };
    this.queue = new AnswerQueue({
      sessionId,
      userId: currentUser?.id ?? null,
      send: send || apiSender(headers),
      onReply: (entry, reply) => {
        const found = waiter(entry);
        if (found) found.resolve(reply);
        else onReply(entry, reply); // sent for an earlier page (before a reload)
      },
      onRefused: (entry, error) => {
        const found = waiter(entry);
        if (found) found.reject(error);
        else onRefused(entry, error);
      },
      onStop,
      onState: showSaveState,
    });
  }

  async answer(handle, response, key) {
    await keepItemChange(this.administrationId, handle, { response });
    await this.queue.add({ kind: "answer", item: handle, response, key });
  }

  async flag(handle, flagged) {
    await keepItemChange(this.administrationId, handle, { flagged });
    await this.queue.add({ kind: "flag", item: handle, flagged });
  }

  // Queued after every answer, so the part is submitted only once all of them are in; resolves
  // with the server's reply to the submission (the next part, or the end).
  async submit(key) {
    const replied = new Promise((resolve, reject) => this.waiters.set(key, { resolve, reject }));
    await this.queue.add({ kind: "submit", key });
    return replied;
  }

  resume() {
    return this.queue.resume();
  }
}
