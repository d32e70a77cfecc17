// The device check (/device-check): is this browser, network, sound and screen ready for a test?
// Every check reports pass, warn or fail in plain words; the summary at the top is a live
// region, and the whole result can be copied as text for the school's IT contact.
import {
  browserVerdict,
  detectBrowser,
  downloadVerdict,
  looksZoomed,
  MINIMUM,
  roundTripVerdict,
  screenVerdict,
} from "./device_check_rules.js";
import { _, formatDateTime, formatNumber, locale, ngettext } from "./i18n.js";

const root = document.querySelector("[data-device-check]");
const summary = root.querySelector("[data-summary]");
const resultText = root.querySelector("[data-result-text]");
const copyStatus = root.querySelector("[data-copy-status]");

const VERDICTS = {
  pass: _("OK"),
  warn: _("Warning"),
  fail: _("Problem"),
  pending: _("Not checked yet"),
  running: _("Checking…"),
};
const PINGS = 10;

// One entry per row of the table, in its order: the copied text lists them the same way.
const results = new Map();
for (const row of root.querySelectorAll("[data-check]")) {
  const label = row.querySelector("[data-label]").textContent.trim();
  results.set(row.dataset.check, { label, state: "running", detail: "" });
}
let lastRoundTrip = null;
let running = false;

// Whole sentences follow one another with a space in English, with none in Japanese.
const joinSentences = (sentences) => sentences.filter(Boolean).join(locale === "ja" ? "" : " ");

// ``sentences`` are whole sentences in the page's language, shown one after the other.
function report(name, state, ...sentences) {
  const detail = joinSentences(sentences);
  const row = root.querySelector(`[data-check="${name}"]`);
  const verdict = row.querySelector("[data-verdict]");
  verdict.dataset.state = state;
  verdict.textContent = VERDICTS[state];
  row.querySelector("[data-detail]").textContent = detail;
  results.set(name, { ...results.get(name), state, detail });
  resultText.value = resultAsText();
}

const ms = (value) => formatNumber(Math.round(value));

// --- the browser ------------------------------------------------------------------------

function checkBrowser() {
  const browser = detectBrowser(navigator.userAgent, {
    brands: navigator.userAgentData?.brands,
    touchPoints: navigator.maxTouchPoints || 0,
    platform: navigator.userAgentData?.platform || null,
  });
  browser.os = browser.os || _("an unknown system");
  const verdict = browserVerdict(browser);
  const named = browser.name
    ? _("%(browser)s %(version)s on %(os)s.", {
        browser: browser.name,
        version: browser.version ?? "?",
        os: browser.os,
      })
    : _("An unknown browser on %(os)s.", { os: browser.os });
  if (verdict === "fail") {
    report("browser", "fail", named, _("Internet Explorer cannot run the test: use Chrome, Edge, Safari or Firefox."));
  } else if (verdict === "unknown") {
    report("browser", "warn", named, _("This browser is not one we test with: use Chrome, Edge, Safari or Firefox."));
  } else if (verdict === "old") {
    const minimum = _("%(browser)s %(version)s or later", {
      browser: browser.engine,
      version: MINIMUM[browser.engine],
    });
    report("browser", "warn", named, _("This version is older than we support (%(minimum)s): update the browser.", { minimum }));
  } else {
    report("browser", "pass", named, _("Supported."));
  }
}

// --- what the player uses ---------------------------------------------------------------

function checkModules() {
  // This code runs, so the browser runs ES modules (the nomodule script says so otherwise).
  report("modules", "pass", _("JavaScript modules run."));
}

function withTimeout(promise, milliseconds, fallback) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(fallback), milliseconds))]);
}

async function checkStorage() {
  if (!("indexedDB" in window) || !window.indexedDB) {
    report("storage", "fail", _("IndexedDB is missing: answers cannot be kept through a network loss."));
    return;
  }
  const opened = new Promise((resolve) => {
    let request;
    try {
      request = indexedDB.open("cbt-device-check", 1);
    } catch {
      resolve(false);
      return;
    }
    request.onsuccess = () => {
      request.result.close();
      indexedDB.deleteDatabase("cbt-device-check");
      resolve(true);
    };
    request.onerror = () => resolve(false);
    request.onblocked = () => resolve(false);
  });
  const works = await withTimeout(opened, 3000, null);
  if (works) {
    report("storage", "pass", _("Answers can be kept on the device through a network loss."));
  } else if (works === null) {
    report("storage", "warn", _("IndexedDB did not answer in 3 seconds: answers may not be kept through a network loss."));
  } else {
    report("storage", "fail", _("IndexedDB is blocked (private browsing or a policy?): answers cannot be kept through a network loss."));
  }
}

function checkOffline() {
  if ("serviceWorker" in navigator) {
    report("offline", "pass", _("The player can reopen from the device after a network loss."));
  } else if (!window.isSecureContext) {
    report("offline", "warn", _("Service workers need HTTPS: open the app with an https:// address. The test still works online."));
  } else {
    report("offline", "warn", _("Service workers are off (a policy?): a reload during a network loss will not reopen the player."));
  }
}

function checkCookies() {
  let works = navigator.cookieEnabled;
  if (works) {
    document.cookie = "cbt_device_check=1; path=/; max-age=60; SameSite=Lax";
    works = document.cookie.includes("cbt_device_check=1");
    document.cookie = "cbt_device_check=; path=/; max-age=0; SameSite=Lax";
  }
  if (works) report("cookies", "pass", _("Cookies are on: logging in works."));
  else report("cookies", "fail", _("Cookies are off: nobody can log in. Allow cookies for this site."));
}

function loadVoices() {
  const voices = speechSynthesis.getVoices();
  if (voices.length) return Promise.resolve(voices);
  return withTimeout(
    new Promise((resolve) => {
      speechSynthesis.addEventListener("voiceschanged", () => resolve(speechSynthesis.getVoices()), { once: true });
    }),
    2000,
    [],
  );
}

async function checkSpeech() {
  if (!("speechSynthesis" in window)) {
    report("speech", "warn", _("Read-aloud is not available in this browser."));
    return;
  }
  const voices = await loadVoices();
  const japanese = voices.find((voice) => /^ja([-_]|$)/i.test(voice.lang));
  if (japanese) {
    report("speech", "pass", _("A Japanese voice is installed: %(voice)s.", { voice: japanese.name }));
  } else if (voices.length) {
    report("speech", "warn", _("No Japanese voice is installed: read-aloud of Japanese text needs one (the system's speech settings)."));
  } else {
    report("speech", "warn", _("No voice is installed: read-aloud will stay silent."));
  }
}

// --- the network ------------------------------------------------------------------------

async function checkNetwork() {
  const times = [];
  try {
    for (let n = 0; n < PINGS; n += 1) {
      const start = performance.now();
      const response = await fetch(`${root.dataset.pingUrl}?n=${n}`, {
        cache: "no-store",
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const body = await response.json();
      if (!response.ok || body.ok !== true) throw new Error(String(response.status));
      times.push(performance.now() - start);
    }
  } catch {
    lastRoundTrip = null;
    report("network", "fail", _("The server did not answer: check the network connection, the school's filter or proxy."));
    return;
  }
  const { median: middle, worst, state } = roundTripVerdict(times);
  lastRoundTrip = middle;
  const detail = _("Median %(median)s ms, slowest %(worst)s ms (%(count)s requests).", {
    median: ms(middle),
    worst: ms(worst),
    count: times.length,
  });
  if (state === "fail") {
    report("network", "fail", detail, _("Too slow for a test: every answer would wait. Check the network."));
  } else if (state === "slow") {
    report("network", "warn", detail, _("Slow: tests work, but pages will wait."));
  } else if (state === "unsteady") {
    report("network", "warn", detail, _("Fast, but some requests were slow: the network may be unsteady."));
  } else {
    report("network", "pass", detail, _("Fast enough."));
  }
}

async function checkDownload() {
  const expected = Number(root.dataset.sampleBytes);
  let bytes;
  let seconds;
  try {
    const start = performance.now();
    const response = await fetch(`${root.dataset.sampleUrl}?t=${Date.now()}`, { cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    bytes = (await response.arrayBuffer()).byteLength;
    seconds = Math.max(performance.now() - start, 1) / 1000;
  } catch {
    report("download", "fail", _("The test file could not be downloaded: check the school's filter or proxy."));
    return;
  }
  const mbits = (bytes * 8) / seconds / 1e6;
  const detail = _("%(size)s KB in %(time)s ms: %(speed)s Mbit/s.", {
    size: formatNumber(Math.round(bytes / 1024)),
    time: ms(seconds * 1000),
    speed: formatNumber(mbits, { maximumFractionDigits: 1 }),
  });
  if (bytes !== expected) {
    report("download", "warn", detail, _("The file arrived changed (a proxy?): expected %(size)s bytes.", { size: formatNumber(expected) }));
  } else if (downloadVerdict(mbits) === "fail") {
    report("download", "fail", detail, _("Too slow: pages and pictures will take long to load."));
  } else if (downloadVerdict(mbits) === "warn") {
    report("download", "warn", detail, _("Slow: tests work, but pictures load slowly."));
  } else {
    report("download", "pass", detail, _("Fast enough."));
  }
}

// --- sound ------------------------------------------------------------------------------

const AudioContextClass = window.AudioContext || window.webkitAudioContext;
const toneButton = root.querySelector("[data-play-tone]");
const toneQuestion = root.querySelector("[data-tone-question]");
let audioContext = null;

function playTone() {
  audioContext = audioContext || new AudioContextClass();
  audioContext.resume?.();
  const now = audioContext.currentTime;
  const oscillator = audioContext.createOscillator();
  const gain = audioContext.createGain();
  oscillator.type = "sine";
  oscillator.frequency.value = 660;
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.3, now + 0.05);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.9);
  oscillator.connect(gain).connect(audioContext.destination);
  oscillator.start(now);
  oscillator.stop(now + 1);
}

function checkAudioAvailable() {
  if (!AudioContextClass) {
    toneButton.disabled = true;
    report("audio", "fail", _("This browser cannot play sound (no Web Audio): listening questions will not work."));
  } else if (results.get("audio").state === "running") {
    report("audio", "pending", _("Press “Play a test tone” below and say whether you heard it."));
  }
}

toneButton.addEventListener("click", () => {
  try {
    playTone();
  } catch {
    report("audio", "fail", _("The tone could not be played: this browser blocked sound."));
    summarise();
    return;
  }
  toneQuestion.hidden = false;
  toneQuestion.querySelector("[data-heard=yes]").focus();
});

for (const button of toneQuestion.querySelectorAll("[data-heard]")) {
  button.addEventListener("click", () => {
    if (button.dataset.heard === "yes") {
      report("audio", "pass", _("You heard the test tone."));
    } else {
      report("audio", "fail", _("No sound: check the volume, the mute switch and the headphones, then play the tone again."));
    }
    toneQuestion.hidden = true;
    toneButton.focus();
    summarise();
  });
}

// --- the screen -------------------------------------------------------------------------

function checkScreen() {
  const width = window.innerWidth;
  const height = window.innerHeight;
  const ratio = window.devicePixelRatio || 1;
  // The window's shape (what the test is laid out in), not the screen's.
  const portrait = height >= width; // as the CSS orientation media feature decides
  const orientation = portrait ? _("portrait") : _("landscape");
  const detail = _("Window %(width)s×%(height)s, screen %(screen_width)s×%(screen_height)s, pixel ratio %(ratio)s, %(orientation)s.", {
    width,
    height,
    screen_width: screen.width,
    screen_height: screen.height,
    ratio: formatNumber(ratio, { maximumFractionDigits: 2 }),
    orientation,
  });
  const zoom = looksZoomed(ratio) ? _("The browser may be zoomed in or out.") : "";
  const verdict = screenVerdict(width, height);
  if (verdict === "pass") {
    report("screen", "pass", detail, _("Large enough for tests."), zoom);
  } else if (verdict === "warn") {
    report("screen", "warn", detail, _("Smaller than 1024×768: tests work (a 360×640 phone too), but long passages and figures need scrolling."), zoom);
  } else {
    report("screen", "fail", detail, _("Too small for a test: enlarge the window or use a larger device."), zoom);
  }
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    checkScreen();
    if (!running) summarise();
  }, 300);
});

// --- the summary and the copy -----------------------------------------------------------

function counts() {
  const tally = { pass: 0, warn: 0, fail: 0, pending: 0 };
  for (const { state } of results.values()) if (state in tally) tally[state] += 1;
  return tally;
}

function summaryText() {
  const tally = counts();
  const lead =
    tally.fail > 0
      ? _("This device has a problem for tests.")
      : tally.warn > 0
        ? _("This device can take tests, with warnings.")
        : _("This device is ready for tests.");
  const parts = [ngettext("%(n)s check OK", "%(n)s checks OK", tally.pass)];
  if (tally.warn) parts.push(ngettext("%(n)s warning", "%(n)s warnings", tally.warn));
  if (tally.fail) parts.push(ngettext("%(n)s problem", "%(n)s problems", tally.fail));
  if (tally.pending) parts.push(ngettext("%(n)s not checked yet", "%(n)s not checked yet", tally.pending));
  const list = parts.join(_(", "));
  const sentences = [lead, _("Result: %(list)s.", { list })];
  if (lastRoundTrip !== null) sentences.push(_("Round trip %(ms)s ms.", { ms: ms(lastRoundTrip) }));
  return { state: tally.fail ? "fail" : tally.warn ? "warn" : "pass", text: joinSentences(sentences) };
}

function summarise() {
  const { state, text } = summaryText();
  summary.dataset.state = state;
  summary.textContent = text;
  resultText.value = resultAsText();
}

function resultAsText() {
  const lines = [
    [_("Device check"), formatDateTime(new Date().toISOString())].join(": "),
    [_("Address"), window.location.origin].join(": "),
  ];
  if (!running) lines.push([_("Summary"), summaryText().text].join(": "));
  for (const { label, state, detail } of results.values()) {
    lines.push(`- ${label}: ${VERDICTS[state]} / ${detail}`);
  }
  lines.push([_("User agent"), navigator.userAgent].join(": "));
  return lines.join("\n");
}

async function copyResult() {
  const text = resultAsText();
  resultText.value = text;
  try {
    if (!navigator.clipboard?.writeText) throw new TypeError();
    await navigator.clipboard.writeText(text);
    copyStatus.textContent = _("Copied. Paste it into an e-mail or a message.");
  } catch {
    // Without HTTPS there is no clipboard API: select the text so that Ctrl+C copies it.
    resultText.focus();
    resultText.select();
    copyStatus.textContent = _("Could not copy by itself: the text below is selected, copy it with Ctrl+C (⌘C).");
  }
}

root.querySelector("[data-copy]").addEventListener("click", copyResult);

const rerun = root.querySelector("[data-rerun]");

async function runChecks() {
  running = true;
  rerun.disabled = true;
  summary.dataset.state = "running";
  summary.textContent = _("Checking this device…");
  checkBrowser();
  checkModules();
  checkCookies();
  checkOffline();
  checkScreen();
  checkAudioAvailable();
  await Promise.all([checkStorage(), checkSpeech()]);
  // One after the other, so that the download does not slow the round trips down.
  await checkNetwork();
  await checkDownload();
  running = false;
  rerun.disabled = false;
  summarise();
}

rerun.addEventListener("click", runChecks);
runChecks();
