// Accommodations in the player (合理的配慮): font size (標準/大/特大), high contrast, ruby (ふりがな),
// read-aloud (読み上げ, speechSynthesis) and a line reader (ラインリーダー).
// The player calls applyAccommodations(view) each time it shows a view. The first call reads the
// sitting's conditions (the student's profile, set by the teacher) and builds the settings
// panel; each change applies at once and is recorded on the session (PUT .../conditions), off
// the answer path. Item HTML was sanitised by the server; nothing here adds markup from text.
import { api, ApiError, el } from "./api.js";
import { _ } from "./i18n.js";

const FONT_SIZES = [
  ["standard", () => _("Standard")],
  ["large", () => _("Large")],
  ["x_large", () => _("Extra large")],
];
const TOGGLES = [
  ["high_contrast", () => _("High contrast")],
  ["ruby", () => _("Show furigana (ruby)")],
  ["read_aloud", () => _("Read-aloud buttons")],
  ["line_reader", () => _("Line reader")],
];
const DEFAULTS = { font_size: "standard", high_contrast: false, ruby: true, read_aloud: false, line_reader: false };
const RESEND_MS = 5000;

let sessionId = null;
let settings = { ...DEFAULTS };
let panel = null;
let band = null;
let bandY = null;
let sending = null; // the PUT in flight
let unsent = false; // a change made while one was in flight, or one that failed
let lastView = null;

const speechAvailable = () => "speechSynthesis" in window && "SpeechSynthesisUtterance" in window;

// -- applying the settings ------------------------------------------------------------------

function apply() {
  const root = document.documentElement;
  for (const [size] of FONT_SIZES) root.classList.toggle(`acc-font-${size}`, settings.font_size === size);
  document.body.classList.toggle("acc-high-contrast", settings.high_contrast);
  document.body.classList.toggle("acc-ruby-off", !settings.ruby);
  document.body.classList.toggle("acc-read-aloud", settings.read_aloud);
  document.body.dataset.fontSize = settings.font_size;
  showBand(settings.line_reader);
  if (!settings.read_aloud && speechAvailable()) window.speechSynthesis.cancel();
  if (panel) {
    for (const input of panel.querySelectorAll("input[name=acc-font-size]")) input.checked = input.value === settings.font_size;
    for (const [name] of TOGGLES) panel.querySelector(`[data-setting=${name}]`).checked = settings[name];
  }
}

async function record() {
  if (!sessionId) return;
  if (sending) {
    unsent = true; // sent when the one in flight is done: the latest settings win
    return;
  }
  unsent = false;
  let retry = false;
  sending = api(`/api/v1/sessions/${sessionId}/conditions`, { method: "PUT", body: { ...settings } });
  try {
    await sending;
  } catch (error) {
    // Offline or the server busy: try again a little later. A refusal (the test ended) is final.
    retry = !(error instanceof ApiError) || error.status >= 500 || error.status === 429;
  } finally {
    sending = null;
  }
  if (retry) setTimeout(record, RESEND_MS);
  else if (unsent) record();
}

function change(name, value) {
  if (settings[name] === value) return;
  settings = { ...settings, [name]: value };
  apply();
  record();
}

// -- the settings panel -----------------------------------------------------------------------

function buildPanel() {
  const toggle = el("button", {
    type: "button",
    class: "acc-toggle",
    "aria-expanded": "false",
    "aria-controls": "acc-panel",
    text: _("Display and reading settings"),
  });
  const box = el("div", { id: "acc-panel", class: "acc-panel", role: "group", "aria-labelledby": "acc-panel-title", hidden: "" });
  box.append(el("h2", { id: "acc-panel-title", class: "acc-title", text: _("Display and reading settings") }));
  const sizes = el("fieldset", { class: "acc-sizes" }, el("legend", { text: _("Text size") }));
  for (const [value, label] of FONT_SIZES) {
    const input = el("input", { type: "radio", name: "acc-font-size", value });
    input.addEventListener("change", () => input.checked && change("font_size", value));
    sizes.append(el("label", { class: "acc-choice" }, input, el("span", { text: label() })));
  }
  box.append(sizes);
  for (const [name, label] of TOGGLES) {
    const input = el("input", { type: "checkbox", "data-setting": name });
    input.addEventListener("change", () => change(name, input.checked));
    box.append(el("label", { class: "acc-choice" }, input, el("span", { text: label() })));
  }
  box.append(el("p", { class: "acc-hint", text: _("Line reader: move it with the mouse, or with Alt+↑ and Alt+↓; it also follows the keyboard focus.") }));
  if (!speechAvailable()) box.append(el("p", { class: "acc-hint", text: _("This browser cannot read aloud.") }));
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    box.hidden = !open;
    if (open) (box.querySelector("input:checked") || box.querySelector("input"))?.focus();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      box.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
  panel = el("div", { class: "acc" }, toggle, box);
  // Before the player, not in it: the player is a live region, the panel is not news.
  const player = document.querySelector(".player");
  if (player) player.before(panel);
  else document.getElementById("main").prepend(panel);
}

// -- read-aloud -------------------------------------------------------------------------------

// What to say for a node: the reading in <rt> instead of the base text (it is how the author
// wants the word read), without buttons or <rp>.
function speechText(node) {
  const copy = node.cloneNode(true);
  for (const extra of copy.querySelectorAll(".acc-speak, rp, button, select")) extra.remove();
  for (const ruby of copy.querySelectorAll("ruby")) {
    const readings = [...ruby.querySelectorAll("rt")].map((rt) => rt.textContent).join("");
    ruby.replaceWith(readings || ruby.textContent);
  }
  return copy.textContent.replace(/\s+/g, " ").trim();
}

const JAPANESE = /[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]/;

function languageOf(node, text) {
  const marked = node.closest("[lang]")?.getAttribute("lang") || "";
  const inside = node.querySelector?.("[lang]")?.getAttribute("lang") || "";
  const lang = (inside || (marked !== document.documentElement.lang ? marked : "")).toLowerCase();
  if (lang.startsWith("ja")) return "ja-JP";
  if (lang.startsWith("en")) return "en-US";
  return JAPANESE.test(text) ? "ja-JP" : "en-US";
}

function voiceFor(lang) {
  const voices = window.speechSynthesis.getVoices();
  const base = lang.slice(0, 2);
  return (
    voices.find((v) => v.lang.replace("_", "-") === lang) || voices.find((v) => v.lang.toLowerCase().startsWith(base)) || null
  );
}

function speak(text, lang) {
  if (!speechAvailable() || !text) return;
  const synth = window.speechSynthesis;
  synth.cancel();
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.lang = lang;
  const voice = voiceFor(lang);
  if (voice) utterance.voice = voice;
  synth.speak(utterance);
}

function speakButton(label, read) {
  const button = el("button", { type: "button", class: "acc-speak", text: label });
  if (!speechAvailable()) button.disabled = true;
  button.addEventListener("click", (event) => {
    event.preventDefault();
    const [text, lang] = read();
    speak(text, lang);
  });
  return button;
}

function decorate(view) {
  const items = document.querySelector("[data-item]");
  // In a section with free navigation each question keeps its own node (navigator.js).
  const box = items && (items.querySelector(".free-item:not([hidden])") || items);
  const item = view && view.item;
  if (!box || !item || box.dataset.accDecorated === item.handle) return;
  box.dataset.accDecorated = item.handle;
  const stimulus = box.querySelector(".stimulus");
  if (stimulus) {
    stimulus.before(
      speakButton(_("Read the passage aloud"), () => {
        const text = speechText(stimulus);
        return [text, languageOf(stimulus, text)];
      }),
    );
  }
  const stem = box.querySelector("[data-stem]");
  if (stem) {
    const given = item.accessibility && item.accessibility.read_aloud; // the author's own text
    stem.after(
      speakButton(_("Read the question aloud"), () => {
        const text = given || speechText(stem);
        return [text, languageOf(stem, speechText(stem) || text)];
      }),
    );
  }
  const options = [...box.querySelectorAll(".options label.option, ol.ordering > li")];
  options.forEach((option, index) => {
    const content = option.querySelector("span") || option;
    const button = speakButton(_("Read option %(n)s aloud", { n: index + 1 }), () => {
      const text = speechText(content);
      return [text, languageOf(content, text)];
    });
    if (option.tagName === "LABEL") {
      // A button inside a label would toggle the choice: put both in a row instead.
      const row = el("div", { class: "acc-option-row" });
      option.replaceWith(row);
      row.append(option, button);
    } else {
      option.append(button);
    }
  });
}

// -- the line reader ----------------------------------------------------------------------------

function bandHeight() {
  return parseFloat(getComputedStyle(document.body).fontSize) * 2.4;
}

function moveBand(y) {
  if (!band) return;
  const h = bandHeight();
  bandY = Math.max(0, Math.min(window.innerHeight - h, y - h / 2));
  band.style.height = `${h}px`;
  band.style.transform = `translateY(${Math.round(bandY)}px)`;
  band.dataset.top = String(Math.round(bandY));
}

function showBand(on) {
  if (!on) {
    band?.remove();
    band = null;
    return;
  }
  if (band) return;
  band = el("div", { class: "acc-line-reader", "aria-hidden": "true", "data-line-reader": "" });
  document.body.append(band);
  const focused = document.activeElement;
  if (bandY !== null) moveBand(bandY + bandHeight() / 2);
  else if (focused && focused !== document.body) moveBand(centreOf(focused));
  else moveBand(window.innerHeight / 3);
}

const centreOf = (node) => {
  const rect = node.getBoundingClientRect();
  return rect.top + rect.height / 2;
};

function listenForBand() {
  document.addEventListener("pointermove", (event) => band && moveBand(event.clientY), { passive: true });
  document.addEventListener("focusin", (event) => {
    if (band && !event.target.closest(".acc")) moveBand(centreOf(event.target));
  });
  document.addEventListener("keydown", (event) => {
    if (!band || !event.altKey || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
    event.preventDefault();
    const line = parseFloat(getComputedStyle(document.body).lineHeight) || bandHeight() / 1.5;
    moveBand(bandY + bandHeight() / 2 + (event.key === "ArrowDown" ? line : -line));
  });
  window.addEventListener("resize", () => band && moveBand(bandY + bandHeight() / 2));
}

// -- the entry point ------------------------------------------------------------------------

async function attach(session) {
  sessionId = session.id;
  buildPanel();
  listenForBand();
  apply();
  try {
    const conditions = await api(`/api/v1/sessions/${sessionId}/conditions`, { retries: 3 });
    settings = { ...DEFAULTS, ...conditions.current };
  } catch {
    /* the defaults stay; the student may still choose */
  }
  apply();
  document.body.dataset.accommodations = "ready"; // for the page's own tests
  if (lastView) decorate(lastView);
}

export function applyAccommodations(view) {
  lastView = view;
  if (!view || !view.session) return;
  if (sessionId === null) attach(view.session);
  decorate(view);
}
