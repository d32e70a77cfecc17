// Free navigation in a linear section: the question navigator, Previous/Next, the review flag and
// the review screen before the section is submitted. The server keeps every answer (each change
// is a new revision), the flags and the submit; this module only shows them. take_test.js hands
// it the one function that sends an answer and the one that renders an item, so an offline queue
// can wrap the first without touching this file.
import { api, ApiError, constants, setStatus } from "./api.js";
import { _, ngettext } from "./i18n.js";

const codes = constants.errorCodes;

// The screen-reader name of a question's button: 「問3 解答済み 見直し」.
export function questionLabel(entry) {
  const parts = [_("Question %(number)s", { number: entry.number })];
  parts.push(entry.answered ? _("answered") : _("not answered"));
  if (entry.flagged) parts.push(_("flagged for review"));
  return parts.join(" ");
}

// One button per question: number, answered and flagged state, aria-current on the one shown.
export function renderNavigator(list, items, current, onPick) {
  list.replaceChildren();
  for (const entry of items) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "nav-question";
    button.dataset.handle = entry.handle;
    button.dataset.answered = String(entry.answered);
    button.dataset.flagged = String(entry.flagged);
    button.textContent = String(entry.number);
    button.setAttribute("aria-label", questionLabel(entry));
    if (entry.handle === current) button.setAttribute("aria-current", "step");
    button.addEventListener("click", () => onPick(entry.handle));
    const li = document.createElement("li");
    li.append(button);
    list.append(li);
  }
}

function reviewLinks(list, entries, onPick) {
  list.replaceChildren();
  for (const entry of entries) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = _("Question %(number)s", { number: entry.number });
    button.setAttribute("aria-label", questionLabel(entry));
    button.addEventListener("click", () => onPick(entry.handle));
    const li = document.createElement("li");
    li.append(button);
    list.append(li);
  }
}

// Put a saved answer back into freshly rendered controls (after a reload).
export function fillResponse(node, response) {
  if (!response) return;
  const inputs = [...node.querySelectorAll("input, select, textarea, button")];
  if ("choice" in response || "choices" in response) {
    const picked = new Set(response.choices || [response.choice]);
    for (const input of inputs) {
      if (input.type === "radio" || input.type === "checkbox") input.checked = picked.has(input.value);
    }
  } else if ("text" in response || "value" in response) {
    const field = inputs.find((input) => input.type === "text" || input.tagName === "TEXTAREA");
    if (field) field.value = response.text ?? response.value;
  }
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// `deps`: elements, `headers()`, `sendAnswer(pending)` (resolves with the view, or throws),
// `renderItem(container, itemView)` (returns { read() }), `onView(view)` (renders a view that
// left the section), `remember(view)` (a reply that stays in it), `onError(error)`, `isEmpty(response)`, `newKey()`, `announce(text)`,
// `afterShow(item)` (the accommodations' decoration of the question shown). Optional, for the
// offline player (offline.js): `loadItems(view)`, `sendFlag(handle, flagged)` and
// `sendSubmit(key)` in place of the requests below, and `quiet` when the sender shows its own
// saving state.
export function createFreeSection(deps) {
  const { form, itemBox, navigator, review, number } = deps.elements;
  const list = navigator.querySelector("[data-navigator-list]");
  const previous = form.querySelector("[data-previous]");
  const next = form.querySelector("[data-next]");
  const flag = form.querySelector("[data-flag]");
  const toReview = form.querySelector("[data-review]");
  const confirm = review.querySelector("[data-review-confirm]");
  let state = null; // { sessionId, sectionKey, items: [summary], entries: Map, boxes: Map, current }
  let busy = false;

  const summaryOf = (handle) => state.items.find((entry) => entry.handle === handle);
  const indexOf = (handle) => state.items.findIndex((entry) => entry.handle === handle);
  const box = (handle) => state.boxes.get(handle);

  function currentNode() {
    return state && state.current ? box(state.current)?.node : null;
  }

  async function load(view) {
    const body = deps.loadItems
      ? await deps.loadItems(view)
      : await api(`/api/v1/sessions/${view.session.id}/section/items`, { headers: deps.headers(), retries: 8 });
    const entries = new Map(body.items.map((entry) => [entry.handle, entry]));
    state = {
      sessionId: view.session.id,
      sectionKey: view.section.key,
      items: view.section.items,
      entries,
      boxes: new Map(),
      current: view.item ? view.item.handle : view.section.items[0].handle,
      saved: new Map(body.items.map((entry) => [entry.handle, entry.response])),
    };
  }

  function ensureBox(handle) {
    if (state.boxes.has(handle)) return state.boxes.get(handle);
    const node = document.createElement("div");
    node.className = "free-item";
    node.dataset.handle = handle;
    const entry = state.entries.get(handle);
    const rendered = deps.renderItem(node, entry);
    fillResponse(node, entry.response);
    const made = { node, rendered };
    state.boxes.set(handle, made);
    return made;
  }

  function showItem(handle, { focus = true } = {}) {
    state.current = handle;
    const shown = ensureBox(handle);
    for (const child of [...itemBox.children]) child.hidden = child !== shown.node;
    if (!itemBox.contains(shown.node)) itemBox.append(shown.node);
    shown.node.hidden = false;
    const entry = summaryOf(handle);
    const position = indexOf(handle);
    number.hidden = false;
    number.textContent = _("Question %(number)s of %(count)s", { number: entry.number, count: state.items.length });
    previous.hidden = false;
    previous.disabled = position === 0;
    const last = position === state.items.length - 1;
    next.hidden = last;
    next.disabled = false;
    next.textContent = _("Next");
    toReview.hidden = false;
    flag.hidden = false;
    flag.setAttribute("aria-pressed", String(entry.flagged));
    flag.textContent = entry.flagged ? _("Flagged for review") : _("Flag for review");
    review.hidden = true;
    navigator.hidden = false;
    form.hidden = false;
    renderNavigator(list, state.items, handle, (picked) => go(picked));
    deps.afterShow(state.entries.get(handle)); // read-aloud buttons and the like, before the focus
    if (focus) {
      (shown.node.querySelector("input:checked") || shown.node.querySelector("input, select, textarea, button"))?.focus();
    }
  }

  function applySummary(view) {
    if (view.section && view.section.items && view.section.key === state.sectionKey) {
      state.items = view.section.items;
    }
  }

  // Save the answer on screen if it changed since it was last saved. Resolves true when the
  // student may move on; false when the section ended or the answer was refused.
  async function saveCurrent() {
    const handle = state.current;
    const shown = handle ? box(handle) : null;
    if (!shown) return true;
    const response = shown.rendered.read();
    if (deps.isEmpty(response) || same(response, state.saved.get(handle))) return true;
    next.disabled = true;
    if (!deps.quiet) setStatus(_("Saving…"));
    try {
      const view = await deps.sendAnswer({ item: handle, response, key: deps.newKey() });
      state.saved.set(handle, response);
      if (!deps.quiet) setStatus(_("Saved."), "ok");
      if (!isOpenHere(view)) {
        deps.onView(view);
        return false;
      }
      deps.remember(view);
      applySummary(view);
      return true;
    } catch (error) {
      await deps.onError(error);
      return false;
    } finally {
      next.disabled = false;
    }
  }

  function isOpenHere(view) {
    return !view.finished && isFree(view) && state && view.section.key === state.sectionKey;
  }

  async function go(handle) {
    if (busy) return;
    busy = true;
    try {
      if (await saveCurrent()) showItem(handle);
    } finally {
      busy = false;
    }
  }

  async function step(by) {
    const target = state.items[indexOf(state.current) + by];
    if (target) await go(target.handle);
  }

  async function toggleFlag() {
    const entry = summaryOf(state.current);
    const flagged = !entry.flagged;
    try {
      const view = deps.sendFlag
        ? await deps.sendFlag(state.current, flagged)
        : await api(`/api/v1/sessions/${state.sessionId}/flags`, {
            method: "PUT",
            body: { item: state.current, flagged },
            headers: deps.headers(),
            retries: 8,
          });
      if (!isOpenHere(view)) {
        deps.onView(view);
        return;
      }
      deps.remember(view);
      applySummary(view);
      showItem(state.current, { focus: false });
      flag.focus();
      deps.announce(flagged ? _("Flagged for review.") : _("Flag removed."));
    } catch (error) {
      await deps.onError(error);
    }
  }

  function showReview() {
    const unanswered = state.items.filter((entry) => !entry.answered);
    const flagged = state.items.filter((entry) => entry.flagged);
    review.querySelector("[data-review-summary]").textContent = ngettext(
      "%(answered)s of %(n)s question answered.",
      "%(answered)s of %(n)s questions answered.",
      state.items.length,
      { answered: state.items.length - unanswered.length },
    );
    const unansweredList = review.querySelector("[data-review-unanswered]");
    const flaggedList = review.querySelector("[data-review-flagged]");
    reviewLinks(unansweredList, unanswered, (handle) => go(handle));
    reviewLinks(flaggedList, flagged, (handle) => go(handle));
    review.querySelector("[data-review-unanswered-title]").textContent = unanswered.length
      ? _("Not answered")
      : _("Every question is answered.");
    review.querySelector("[data-review-flagged-title]").textContent = flagged.length
      ? _("Flagged for review")
      : _("No question is flagged.");
    confirm.hidden = true;
    form.hidden = true;
    number.hidden = true;
    review.hidden = false;
    renderNavigator(list, state.items, null, (picked) => go(picked));
    review.querySelector("h2").focus();
  }

  async function openReview() {
    if (busy) return;
    busy = true;
    try {
      if (await saveCurrent()) showReview();
    } finally {
      busy = false;
    }
  }

  const submitKeyName = () => ["cbt", "section-submit", state.sessionId, state.sectionKey].join(":");

  // One key per section, kept across a reload, so a resent submit is recognised.
  function submitKey() {
    try {
      const stored = sessionStorage.getItem(submitKeyName());
      if (stored) return stored;
      const key = deps.newKey();
      sessionStorage.setItem(submitKeyName(), key);
      return key;
    } catch {
      return `${state.sectionKey}-${state.sessionId}`.slice(0, 64);
    }
  }

  async function submitSection() {
    const yes = confirm.querySelector("[data-confirm-yes]");
    yes.disabled = true;
    setStatus(_("Submitting…"));
    try {
      const view = deps.sendSubmit
        ? await deps.sendSubmit(submitKey())
        : await deps.untilDelivered(() =>
            api(`/api/v1/sessions/${state.sessionId}/section/submit`, {
              method: "POST",
              body: { idempotency_key: submitKey() },
              headers: deps.headers(),
            }),
          );
      leave();
      deps.onView(view);
    } catch (error) {
      await deps.onError(error);
    } finally {
      yes.disabled = false;
    }
  }

  function leave() {
    navigator.hidden = true;
    review.hidden = true;
    number.hidden = true;
    for (const button of [previous, flag, toReview]) button.hidden = true;
    next.hidden = false;
    itemBox.replaceChildren();
    state = null;
  }

  previous.addEventListener("click", () => step(-1));
  flag.addEventListener("click", toggleFlag);
  toReview.addEventListener("click", openReview);
  review.querySelector("[data-review-back]").addEventListener("click", () => go(state.current || state.items[0].handle));
  review.querySelector("[data-review-submit]").addEventListener("click", () => {
    confirm.hidden = false;
    confirm.querySelector("p").focus();
  });
  confirm.querySelector("[data-confirm-no]").addEventListener("click", () => {
    confirm.hidden = true;
    review.querySelector("[data-review-submit]").focus();
  });
  confirm.querySelector("[data-confirm-yes]").addEventListener("click", submitSection);

  return {
    active: () => state !== null,
    currentNode,
    currentHandle: () => state?.current ?? null,
    // Show the section a view is on (loading its items on entry, or after a reload).
    async show(view) {
      if (!state || state.sectionKey !== view.section.key || state.sessionId !== view.session.id) {
        if (state) leave();
        try {
          await load(view);
        } catch (error) {
          if (error instanceof ApiError && error.code === codes.NAVIGATION_FORWARD) return;
          await deps.onError(error);
          return;
        }
        showItem(state.current);
      } else {
        applySummary(view);
        if (review.hidden) showItem(state.current, { focus: false });
      }
    },
    // Next in the form: save and go on to the next question.
    next: () => step(1),
    leave: () => state && leave(),
  };
}

export const isFree = (view) => Boolean(view.section && view.section.navigation === "free" && view.section.items);
