// The test player. The server decides everything (next item, time, the end); this page shows it,
// keeps an unacknowledged answer in localStorage and resends it with the same idempotency key
// until the server acknowledges it, so a dropped network or a reload never loses an answer.
import { api, ApiError, constants, el, NetworkError, randomKey, setStatus } from "./api.js";

const codes = constants.errorCodes;
const main = document.getElementById("main");
const administrationId = main.dataset.administrationId;
const form = document.getElementById("item-form");
const stem = form.querySelector("[data-stem]");
const options = form.querySelector("[data-options]");
const next = form.querySelector("[data-next]");
const progress = document.querySelector("[data-progress]");
const timer = document.querySelector("[data-timer]");
const end = document.querySelector("[data-end]");

let view = null;
let deadline = null; // client clock, display only; the server enforces time
let ticker = null;

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
    timer.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left`;
    if (left === 0) {
      clearInterval(ticker);
      finishExpired();
    }
  };
  tick();
  ticker = setInterval(tick, 1000);
}

function render(newView) {
  view = newView;
  const session = view.session;
  if (view.finished) {
    clearInterval(ticker);
    clearPending(session.id);
    form.hidden = true;
    timer.hidden = true;
    setStatus("");
    end.hidden = false;
    const reason = session.status === constants.sessionStatus.EXPIRED ? "Time ran out. " : "";
    end.querySelector("[data-end-detail]").textContent =
      `${reason}You answered ${session.n_answered} questions. Your teacher will see your result.`;
    progress.textContent = "";
    return;
  }
  const item = view.item;
  progress.textContent = `Question ${item.sequence} (up to ${session.max_items})`;
  stem.innerHTML = item.stem; // sanitised by the server
  const legend = options.querySelector("legend");
  options.replaceChildren(legend);
  for (const option of item.options) {
    const input = el("input", { type: "radio", name: "choice", value: option.id });
    const label = el("label", { class: "option" }, input, el("span", { html: option.html }));
    options.append(label);
  }
  next.disabled = true;
  next.textContent = "Next";
  form.hidden = false;
  setStatus("");
  showTimer(session);
  options.querySelector("input")?.focus();
}

async function submit(pending) {
  next.disabled = true;
  next.textContent = "Saving…";
  savePending(view.session.id, pending);
  try {
    const result = await api(`/api/v1/sessions/${view.session.id}/responses`, {
      method: "POST",
      body: { item: pending.item, response: pending.response, idempotency_key: pending.key },
      retries: 8,
      onRetry: (attempt) => setStatus(`Connection lost. Retrying (${attempt})… Your answer is kept.`, "warn"),
    });
    clearPending(view.session.id);
    render(result);
  } catch (error) {
    if (error instanceof ApiError && error.code === codes.TIME_EXPIRED) {
      clearPending(view.session.id);
      await finishExpired();
    } else if (error instanceof ApiError && error.code === codes.ALREADY_ANSWERED) {
      clearPending(view.session.id);
      await start();
    } else if (error instanceof NetworkError) {
      setStatus("Still offline. Your answer is kept and will be sent when you press Next.", "error");
      next.disabled = false;
      next.textContent = "Next";
    } else {
      setStatus(error.message, "error");
      next.disabled = false;
      next.textContent = "Next";
    }
  }
}

async function finishExpired() {
  if (!view || view.finished) return;
  try {
    render(await api(`/api/v1/sessions/${view.session.id}/finish`, { method: "POST", retries: 8 }));
  } catch (error) {
    setStatus(error.message, "error");
  }
}

async function start() {
  try {
    const started = await api(`/api/v1/administrations/${administrationId}/sessions`, {
      method: "POST",
      retries: 8,
      onRetry: (attempt) => setStatus(`Connecting… (${attempt})`, "warn"),
    });
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

options.addEventListener("change", () => {
  next.disabled = false;
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const chosen = options.querySelector("input[name=choice]:checked");
  if (!chosen || !view || !view.item) return;
  const stored = loadPending(view.session.id);
  const sameItem = stored && stored.item === view.item.handle;
  const pending = {
    item: view.item.handle,
    response: { choice: chosen.value },
    key: sameItem ? stored.key : randomKey(),
  };
  submit(pending);
});

start();
