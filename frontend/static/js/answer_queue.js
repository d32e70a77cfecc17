// The player's outbox (docs/offline.md): every answer, flag and part submission of a linear part
// is written to IndexedDB with its idempotency key before it is sent, sent in order, retried
// with backoff through a lost network or an outage, and removed only once the server answered.
// A reload, a crash or a closed lid keeps it; the next page sends it again with the same key,
// and the server's idempotency (a repeated key writes nothing) makes that exactly once.
import { api, ApiError, constants, isOffline, isTransient, resendDelay, sleepUntilOnline } from "./api.js";
import { _, ngettext } from "./i18n.js";

const DATABASE = "cbt-player";
const VERSION = 1;
const codes = constants.errorCodes;

let opening = null;

// One database for the outbox and the snapshots of what was on screen (offline.js).
export function openDatabase() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      if (!("indexedDB" in window)) {
        reject(new Error("indexeddb-missing")); // never shown: the player works online as before
        return;
      }
      const request = indexedDB.open(DATABASE, VERSION);
      request.onupgradeneeded = () => {
        const database = request.result;
        if (!database.objectStoreNames.contains("outbox")) {
          const outbox = database.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
          outbox.createIndex("session", "sessionId");
        }
        if (!database.objectStoreNames.contains("snapshots")) database.createObjectStore("snapshots", { keyPath: "id" });
      };
      request.onsuccess = () => {
        const database = request.result;
        database.onversionchange = () => {
          database.close(); // another tab or the service worker needs it
          opening = null;
        };
        resolve(database);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("indexeddb-blocked"));
    });
    opening.catch(() => {
      opening = null;
    });
  }
  return opening;
}

// One request or cursor walk in its own transaction, as a promise.
export async function withStore(name, mode, work) {
  const database = await openDatabase();
  return new Promise((resolve, reject) => {
    const transaction = database.transaction(name, mode);
    let result;
    const request = work(transaction.objectStore(name));
    if (request) request.onsuccess = () => (result = request.result);
    transaction.oncomplete = () => resolve(result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

const entriesOf = (sessionId) =>
  withStore("outbox", "readonly", (store) => store.index("session").getAll(sessionId)).then((entries) =>
    entries.sort((a, b) => a.seq - b.seq),
  );

// What each kind of entry is on the wire (the linear-section API).
function request(entry) {
  const base = `/api/v1/sessions/${entry.sessionId}`;
  if (entry.kind === "answer") {
    return [`${base}/responses`, "POST", { item: entry.item, response: entry.response, idempotency_key: entry.key }];
  }
  if (entry.kind === "flag") return [`${base}/flags`, "PUT", { item: entry.item, flagged: entry.flagged }];
  return [`${base}/section/submit`, "POST", { idempotency_key: entry.key }];
}

// What the student reads while answers wait: saving, saved, or offline with the count.
export function saveStateText(state, waiting) {
  if (state === "saving") return _("Saving your answers…");
  if (state === "saved") return _("All your answers are saved.");
  if (state === "offline") {
    return waiting > 0
      ? ngettext(
          "Offline: %(n)s answer is waiting to be sent. Keep going; it is kept on this device.",
          "Offline: %(n)s answers are waiting to be sent. Keep going; they are kept on this device.",
          waiting,
        )
      : _("Offline: your changes are kept on this device and sent when the connection is back.");
  }
  if (state === "waiting") {
    return ngettext(
      "The server cannot be reached: %(n)s answer is waiting to be sent. Keep going; it is kept on this device.",
      "The server cannot be reached: %(n)s answers are waiting to be sent. Keep going; they are kept on this device.",
      waiting,
    );
  }
  return "";
}

export class AnswerQueue {
  // send(path, method, body) calls the API with the page's own headers (its device token);
  // onReply(entry, reply) sees each acknowledgement; onRefused(entry, error) each refusal (time
  // up, a part already submitted): the entry can never be recorded and is dropped;
  // onStop(error) a sitting taken over by another device (the entries stay for a reload here).
  constructor({ sessionId, userId, send, onReply = () => {}, onRefused = () => {}, onStop = () => {}, onState }) {
    this.sessionId = sessionId;
    this.userId = userId;
    this.send = send;
    this.onReply = onReply;
    this.onRefused = onRefused;
    this.onStop = onStop;
    this.onState = onState || (() => {});
    this.state = "saved";
    this.waiting = 0; // answers not yet acknowledged
    this.left = 0; // entries of every kind not yet acknowledged
    this.pumping = null;
    this.stopped = false;
    this.idle = [];
    this.woken = null; // ends the current wait between tries
  }

  // Store first, then send: an answer on this device is never only in memory.
  async add(entry) {
    const row = { ...entry, sessionId: this.sessionId, userId: this.userId, tries: 0, queuedAt: Date.now() };
    await withStore("outbox", "readwrite", (store) => {
      // A flag, or an answer no request has carried yet, is replaced by its newer version (same
      // key: the server never saw it); one already tried keeps its key and a new entry follows.
      const cursor = store.index("session").openCursor(this.sessionId);
      cursor.onsuccess = () => {
        const at = cursor.result;
        if (!at) {
          store.add(row);
          return;
        }
        const old = at.value;
        if (row.kind === "submit" && old.kind === "submit" && old.key === row.key) return; // queued
        const same = old.kind === row.kind && old.item === row.item && row.kind !== "submit";
        if (same && (row.kind === "flag" || old.tries === 0)) {
          at.update({ ...old, ...row, seq: old.seq, key: row.kind === "answer" ? old.key : row.key, tries: 0 });
          return;
        }
        at.continue();
      };
      return null;
    });
    this.stopped = false;
    const entries = await entriesOf(this.sessionId);
    this.waiting = entries.filter((entry) => entry.kind === "answer").length;
    this.left = entries.length;
    this.onState(this.state, this.waiting);
    this.pump(); // in the background: add() resolves once the entry is on this device
  }

  // Sends what an earlier page left (after a reload or a crash), if anything; a wait between
  // tries ends now (the page has just reached the server).
  resume() {
    this.woken?.();
    return this.pump();
  }

  // Resolves when nothing of this sitting is left to send (after a stop, when it is sent later).
  whenEmpty() {
    if (this.left === 0 && !this.pumping) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  pump() {
    if (!this.pumping) {
      this.pumping = this.drain()
        .catch(() => this.setState("waiting")) // storage failed: the entries stay for a reload
        .finally(() => {
          this.pumping = null;
          if (this.left === 0) this.idle.splice(0).forEach((resolve) => resolve());
        });
    }
    return this.pumping;
  }

  setState(state) {
    this.state = state;
    this.onState(state, this.waiting);
  }

  async drain() {
    // One tab sends a sitting's outbox at a time (Web Locks where the browser has them).
    const locked = (work) =>
      navigator.locks ? navigator.locks.request(`cbt-outbox-${this.sessionId}`, work) : work();
    await locked(async () => {
      for (let attempt = 0; !this.stopped; ) {
        const entries = await entriesOf(this.sessionId);
        this.waiting = entries.filter((entry) => entry.kind === "answer").length;
        this.left = entries.length;
        if (entries.length === 0) {
          if (this.state !== "saved") this.setState("saved");
          return;
        }
        const entry = entries[0];
        if (attempt === 0) this.setState("saving");
        await withStore("outbox", "readwrite", (store) => store.put({ ...entry, tries: entry.tries + 1 }));
        try {
          const reply = await this.send(...request(entry));
          await this.remove(entry);
          attempt = 0;
          this.onReply(entry, reply);
        } catch (error) {
          if (error instanceof ApiError && error.code === codes.SESSION_TAKEN_OVER) {
            this.stopped = true;
            this.onStop(error);
            return;
          }
          if (isTransient(error) || (error instanceof ApiError && error.code === codes.SESSION_PAUSED)) {
            this.setState(isOffline(error) ? "offline" : "waiting");
            await Promise.race([sleepUntilOnline(resendDelay(attempt, error)), new Promise((go) => (this.woken = go))]);
            attempt += 1;
            continue;
          }
          if (!(error instanceof ApiError)) throw error;
          await this.remove(entry); // the server answered: this one will never be recorded
          attempt = 0;
          this.onRefused(entry, error);
        }
      }
    });
  }

  async remove(entry) {
    await withStore("outbox", "readwrite", (store) => store.delete(entry.seq));
  }
}

// The page's own api() with its headers: the queue's usual sender.
export const apiSender = (headers) => (path, method, body) => api(path, { method, body, headers: headers() });
