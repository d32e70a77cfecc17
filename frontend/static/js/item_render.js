// Renders a student view (what GET/POST on /api/v1 gives a browser) for every item type, and
// reads the student's answer back as the response object the API expects.
// The HTML inside a view was sanitised by the server; nothing here adds markup from text.
import { el } from "./api.js";
import { _ } from "./i18n.js";

let counter = 0;
const uid = (prefix) => `${prefix}-${++counter}`;

function choiceList(view, multiple) {
  const name = uid("choice");
  const box = el("fieldset", { class: "options" }, el("legend", { class: "visually-hidden", text: _("Options") }));
  for (const option of view.options) {
    const input = el("input", { type: multiple ? "checkbox" : "radio", name, value: option.id });
    box.append(el("label", { class: "option" }, input, el("span", { html: option.html })));
  }
  return {
    node: box,
    read: () => {
      const picked = [...box.querySelectorAll("input:checked")].map((input) => input.value);
      if (multiple) return { choices: picked };
      return picked.length ? { choice: picked[0] } : null;
    },
  };
}

function ordering(view) {
  const list = el("ol", { class: "ordering" });
  const move = (item, step) => {
    const sibling = step < 0 ? item.previousElementSibling : item.nextElementSibling;
    if (!sibling) return;
    if (step < 0) list.insertBefore(item, sibling);
    else list.insertBefore(sibling, item);
  };
  for (const option of view.options) {
    const item = el("li", { "data-id": option.id }, el("span", { html: option.html }));
    const up = el("button", { type: "button", class: "small", "aria-label": _("Move up"), text: "↑" });
    const down = el("button", { type: "button", class: "small", "aria-label": _("Move down"), text: "↓" });
    up.addEventListener("click", () => move(item, -1));
    down.addEventListener("click", () => move(item, 1));
    item.append(up, down);
    list.append(item);
  }
  return { node: list, read: () => ({ order: [...list.children].map((li) => li.dataset.id) }) };
}

function targetSelect(targets) {
  const select = el("select", {}, el("option", { value: "", text: "—" }));
  for (const target of targets) {
    // Option labels are plain text: take the text of the sanitised HTML.
    const text = new DOMParser().parseFromString(target.html, "text/html").body.textContent;
    select.append(el("option", { value: target.id, text }));
  }
  return select;
}

function matching(view) {
  const table = el("table", { class: "matching" });
  const selects = [];
  for (const source of view.sources) {
    const select = targetSelect(view.targets);
    select.dataset.source = source.id;
    // The source beside the list names it for screen readers (axe: select-name).
    const label = uid("source");
    select.setAttribute("aria-labelledby", label);
    selects.push(select);
    table.append(el("tr", {}, el("td", { id: label, html: source.html }), el("td", {}, select)));
  }
  return {
    node: table,
    read: () => ({
      pairs: selects.filter((s) => s.value).map((s) => [s.dataset.source, s.value]),
    }),
  };
}

function inlineChoice(view) {
  const node = el("div", { class: "inline-text", html: view.html });
  const selects = {};
  for (const gap of view.gaps) {
    const slot = node.querySelector(`span[data-gap="${CSS.escape(gap.id)}"]`);
    const select = targetSelect(gap.options);
    select.setAttribute("aria-label", _("Gap %(id)s", { id: gap.id }));
    selects[gap.id] = select;
    if (slot) slot.replaceWith(select);
  }
  return {
    node,
    read: () => ({
      gaps: Object.fromEntries(
        Object.entries(selects).filter(([, s]) => s.value).map(([id, s]) => [id, s.value]),
      ),
    }),
  };
}

// Gap match: each gap a drop-down of the shared words (keyboard and mouse alike, no dragging).
// A word that already fills as many gaps as its match_max allows is disabled in the other gaps,
// so arrowing through a list never takes a word away from another gap.
function gapMatch(view) {
  const node = el("div", { class: "inline-text", html: view.html });
  const selects = [];
  const limit = Object.fromEntries(view.gap_texts.map((word) => [word.id, word.match_max]));
  view.gaps.forEach((gapId, position) => {
    const slot = node.querySelector(`span[data-gap="${CSS.escape(gapId)}"]`);
    const select = targetSelect(view.gap_texts);
    select.setAttribute("aria-label", _("Gap %(id)s", { id: position + 1 }));
    select.dataset.gap = gapId;
    selects.push(select);
    if (slot) slot.replaceWith(select);
  });
  const refresh = () => {
    for (const select of selects) {
      for (const option of select.options) {
        const most = limit[option.value] || 0;
        const used = selects.filter((other) => other !== select && other.value === option.value).length;
        option.disabled = Boolean(option.value) && most > 0 && used >= most;
      }
    }
  };
  const hint = el("p", { class: "hint", text: _("Each word fills a limited number of gaps; a word used up is not offered in the other gaps.") });
  const box = el("div", {}, node, hint);
  box.addEventListener("change", refresh); // a draft put back after a reload changes it too
  return {
    node: box,
    read: () => ({
      gaps: Object.fromEntries(selects.filter((s) => s.value).map((s) => [s.dataset.gap, s.value])),
    }),
  };
}

// Hottext: each choosable span a toggle button inside the text (Tab reaches it, Space or Enter
// toggles it, aria-pressed says whether it is chosen). Past max_choices the press is refused
// with a polite message; with max_choices 1 a new press moves the choice.
function hottext(view) {
  const most = view.max_choices || 0;
  const least = view.min_choices || 0;
  const text = el("div", { class: "hottext-text", html: view.html });
  const buttons = [];
  for (const span of view.hottexts) {
    const slot = text.querySelector(`span[data-hottext="${CSS.escape(span.id)}"]`);
    if (!slot) continue;
    const button = el("button", { type: "button", class: "hottext", "aria-pressed": "false", "data-id": span.id, html: span.html });
    buttons.push(button);
    slot.replaceWith(button);
  }
  let rule = _("Choose any number of the underlined parts of the text.");
  if (most === 1) rule = _("Choose one of the underlined parts of the text.");
  else if (most && least) rule = _("Choose %(min)s to %(max)s of the underlined parts of the text.", { min: least, max: most });
  else if (most) rule = _("Choose up to %(max)s of the underlined parts of the text.", { max: most });
  else if (least) rule = _("Choose at least %(min)s of the underlined parts of the text.", { min: least });
  const hint = el("p", { class: "hint", id: uid("hottext-rule"), text: rule });
  const status = el("p", { class: "hint", role: "status", "aria-live": "polite" });
  const group = el("div", { role: "group", "aria-labelledby": hint.id }, hint, text, status);
  const pressed = () => buttons.filter((b) => b.getAttribute("aria-pressed") === "true");
  for (const button of buttons) {
    button.addEventListener("click", () => {
      status.textContent = "";
      if (button.getAttribute("aria-pressed") === "true") {
        button.setAttribute("aria-pressed", "false");
        return;
      }
      if (most === 1) for (const other of pressed()) other.setAttribute("aria-pressed", "false");
      else if (most && pressed().length >= most) {
        status.textContent = _("You can choose at most %(max)s. Press a chosen part again to unchoose it.", { max: most });
        return;
      }
      button.setAttribute("aria-pressed", "true");
    });
  }
  return {
    node: group,
    read: () => {
      const chosen = pressed().map((b) => b.dataset.id);
      return chosen.length < least ? null : { choices: chosen };
    },
  };
}

function textInput(view, numeric) {
  const input = el("input", {
    type: "text",
    class: "answer",
    size: String(Math.min(40, view.expected_length || 12)),
    inputmode: numeric ? "decimal" : "text",
    "aria-label": _("Your answer"),
  });
  const node = el("div", { class: "answer-row" }, input);
  if (numeric && view.unit_hint) node.append(el("span", { class: "unit", text: view.unit_hint }));
  return {
    node,
    read: () => (numeric ? { value: input.value } : { text: input.value }),
  };
}

function essay(view) {
  const area = el("textarea", { rows: String(view.expected_lines || 6), "aria-label": _("Your answer") });
  return { node: area, read: () => ({ text: area.value }) };
}

const RENDERERS = {
  single_choice: (view) => choiceList(view, false),
  partial_credit: (view) => choiceList(view, false),
  multiple_response: (view) => choiceList(view, true),
  ordering,
  matching,
  inline_choice: inlineChoice,
  hottext,
  gap_match: gapMatch,
  text_entry: (view) => textInput(view, false),
  numeric: (view) => textInput(view, true),
  extended_text: essay,
};

// Fill `container` with the item; returns { read() } giving the response object.
export function renderItem(container, view) {
  container.replaceChildren();
  const access = view.accessibility || {};
  container.classList.toggle("large-print", Boolean(access.large_print));
  if (view.stimulus) container.append(el("div", { class: "stimulus", html: view.stimulus.html }));
  const stem = el("div", { class: "stem", "data-stem": "", html: view.stem || "" });
  container.append(stem);
  if (access.furigana) {
    const toggle = el("button", { type: "button", class: "link", text: _("Show furigana") });
    toggle.addEventListener("click", () => {
      const showing = stem.dataset.furigana === "on";
      stem.innerHTML = showing ? view.stem : access.furigana;
      stem.dataset.furigana = showing ? "off" : "on";
      toggle.textContent = showing ? _("Show furigana") : _("Hide furigana");
    });
    container.append(toggle);
  }
  // Read-aloud (access.read_aloud included) is the player's: frontend/static/js/accommodations.js.
  const renderer = RENDERERS[view.item_type];
  if (!renderer) {
    container.append(el("p", { class: "error", text: _("Cannot show an item of type %(type)s.", { type: view.item_type }) }));
    return { read: () => null };
  }
  const part = renderer(view);
  container.append(part.node);
  return { read: part.read };
}
