// The one way pages talk to the server: JSON over /api/v1, CSRF header, clear errors, retries.
import { _, formatNumber } from "./i18n.js";

const csrfMeta = () => document.querySelector('meta[name="csrf-token"]');

export const constants = JSON.parse(document.getElementById("cbt-constants").textContent);
export const currentUser = JSON.parse(document.getElementById("cbt-user").textContent);

export class ApiError extends Error {
  constructor(status, code, message, details, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
    this.retryAfter = retryAfter; // seconds the server asked us to wait (Retry-After), or null
  }
}

export class NetworkError extends Error {}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Weak school networks drop requests: idempotent calls are retried with growing pauses.
// A server answer (even an error) is never retried; only a lost connection or a 502/503/504.
export async function api(path, { method = "GET", body, retries = 0, onRetry, headers = {} } = {}) {
  let attempt = 0;
  let ticket = null; // the waiting room's ticket: our place in line, sent with every try
  const isForm = body instanceof FormData; // a file upload: the browser sets its own type
  for (;;) {
    let response;
    try {
      response = await fetch(path, {
        method,
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "Accept-Language": document.documentElement.lang || "ja",
          ...(body !== undefined && !isForm ? { "Content-Type": "application/json" } : {}),
          ...(method !== "GET" ? { "X-CSRF-Token": csrfMeta().content } : {}),
          ...(ticket ? { "X-Admission-Ticket": ticket } : {}),
          ...headers,
        },
        body: body === undefined || isForm ? body : JSON.stringify(body),
      });
    } catch (error) {
      response = null;
    }
    const transient = response === null || [502, 503, 504].includes(response.status);
    if (transient && attempt < retries) {
      attempt += 1;
      if (onRetry) onRetry(attempt);
      await sleep(Math.min(8000, 500 * 2 ** (attempt - 1)));
      continue;
    }
    if (response === null) throw new NetworkError(_("The connection to the server was lost."));
    const data = await response.json().catch(() => null);
    const waiting = response.status === 429 && data && data.error && data.error.code === "waiting_room";
    if (waiting) {
      // Not an error: the server lets everyone in, in order. Show the place, wait, ask again.
      const details = data.error.details || {};
      ticket = details.ticket || ticket;
      showWaiting(details.position, details.wait_seconds);
      await sleep(1000 * (retryAfterSeconds(response.headers.get("Retry-After")) ?? 2));
      continue;
    }
    hideWaiting();
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(
        response.status,
        error.code || "http_" + response.status,
        error.message || response.statusText,
        error.details,
        retryAfterSeconds(response.headers.get("Retry-After")),
      );
    }
    if (data && data.csrf_token) csrfMeta().content = data.csrf_token;
    return data;
  }
}

// The waiting room's notice, at the top of the page while a request waits in line.
function showWaiting(position, seconds) {
  let notice = document.querySelector("[data-waiting-room]");
  if (!notice) {
    notice = el("p", { role: "status", "aria-live": "polite", "data-waiting-room": "" });
    notice.classList.add("status", "waiting-room");
    (document.querySelector("main") || document.body).prepend(notice);
  }
  notice.textContent = _("You are number %(position)s in line, about %(seconds)s s. You will be let in automatically.", {
    position: formatNumber(position ?? 1),
    seconds: formatNumber(Math.max(1, seconds ?? 1)),
  });
}

function hideWaiting() {
  document.querySelector("[data-waiting-room]")?.remove();
}

// Retry-After is seconds or an HTTP date; null when absent or unreadable.
function retryAfterSeconds(header) {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

// A random key that also works on plain-http school servers (randomUUID needs a secure context).
export function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name === "html") node.innerHTML = value; // only for HTML sanitised by the server
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function setStatus(text, kind = "") {
  const status = document.querySelector("[data-status]");
  if (!status) return;
  status.textContent = text;
  status.dataset.kind = kind;
  status.hidden = !text;
}

// An outage (503), a rate limit (429) or a lost connection is worth waiting out: the request is
// sent again, unchanged (an answer keeps its idempotency key, so the server records it once).
const RESEND_FIRST_MS = 1000;
const RESEND_CAP_MS = 30000;

export function isTransient(error) {
  return error instanceof NetworkError || (error instanceof ApiError && [429, 502, 503, 504].includes(error.status));
}

// Exponential backoff, at least what the server asked for (Retry-After), at most the cap, with
// jitter so a class that lost the network together does not come back in the same instant.
export function resendDelay(attempt, error) {
  const backoff = RESEND_FIRST_MS * 2 ** Math.min(attempt, 10);
  const asked = error instanceof ApiError && error.retryAfter !== null ? error.retryAfter * 1000 : 0;
  const base = Math.min(RESEND_CAP_MS, Math.max(backoff, asked));
  return Math.min(RESEND_CAP_MS, base * (1 + 0.25 * Math.random()));
}

// A pause before the next try that ends early when the browser says the network is back, so
// answers kept through a network loss go out at once rather than at the end of a long backoff.
export function sleepUntilOnline(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timeout);
      window.removeEventListener("online", done);
      resolve();
    };
    const timeout = setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}

// A lost connection while the browser itself reports no network: the device is offline (not
// the server down), which the player tells the student in those words.
export const isOffline = (error) => error instanceof NetworkError && navigator.onLine === false;
