// Author an item: edit content, key and metadata, see it live as a student would, try answers,
// save a new version, move it along the lifecycle, and compare versions.
import { api, ApiError, el } from "./api.js";
import { bank, fillSelects, statusLabel } from "./operator_common.js";
import { _, formatDateTime } from "./i18n.js";
import { renderItem } from "./item_render.js";
import { attachChoiceEditor } from "./choice_editor.js";

const main = document.getElementById("main");
const itemId = main.dataset.itemId ? Number(main.dataset.itemId) : null;
const form = document.querySelector("[data-item-form]");
const field = (name) => form.elements.namedItem(name);
const errorBox = form.querySelector("[data-error]");
const statusBox = form.querySelector("[data-status]");
const preview = document.querySelector("[data-preview]");
const previewError = document.querySelector("[data-preview-error]");
const scoreOut = document.querySelector("[data-score]");
let detail = null;
let rendered = { read: () => null };
let choices = { render: () => {} };

const pretty = (value) => JSON.stringify(value, null, 2);
const list = (text) => String(text || "").split(",").map((part) => part.trim()).filter(Boolean);

function parseJson(name, label) {
  const text = field(name).value.trim();
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error();
    return value;
  } catch {
    throw new ApiError(400, "malformed_json", _("%(label)s is not a JSON object.", { label }), { field: name });
  }
}

function splitContent(content) {
  const { stem = "", ...rest } = content;
  field("stem").value = stem;
  field("content").value = pretty(rest);
}

function loadExample(typeId) {
  const type = bank.itemTypes.find((t) => t.id === typeId);
  splitContent(type.example.content);
  field("scoring").value = pretty(type.example.scoring);
  choices.render();
}

function accessibility() {
  const value = {};
  if (field("read_aloud").value.trim()) value.read_aloud = field("read_aloud").value.trim();
  if (field("furigana").value.trim()) value.furigana = field("furigana").value.trim();
  if (field("large_print").checked) value.large_print = true;
  return value;
}

function collect() {
  const content = { stem: field("stem").value, ...parseJson("content", _("Other content")) };
  const grade = field("grade").value.trim();
  const stimulus = field("stimulus_id").value;
  return {
    item_type: field("item_type").value,
    content,
    scoring: parseJson("scoring", _("The key and scoring rule")),
    title: field("title").value.trim(),
    curriculum_codes: list(field("curriculum_codes").value).map((code) => code.toUpperCase()),
    subject: field("subject").value.trim() || "mathematics",
    grade: grade ? Number(grade) : null,
    content_area: field("content_area").value.trim() || null,
    language: field("language").value.trim() || "ja",
    keywords: list(field("keywords").value),
    author: field("author").value.trim() || null,
    licence: field("licence").value.trim() || null,
    rationale: field("rationale").value.trim() || null,
    stimulus_id: stimulus ? Number(stimulus) : null,
    accessibility: accessibility(),
    enemies: list(field("enemies").value),
  };
}

function describe(error) {
  if (!(error instanceof ApiError)) return _("Cannot reach the server. Try again.");
  const where = error.details && error.details.field ? ` (${error.details.field})` : "";
  return error.message + where;
}

// ---------------------------------------------------------------- live preview

let previewTimer = null;
async function refreshPreview() {
  previewError.textContent = "";
  scoreOut.textContent = "";
  try {
    const body = collect();
    const { item } = await api("/api/v1/items/preview", {
      method: "POST",
      body: {
        item_type: body.item_type,
        content: body.content,
        accessibility: body.accessibility,
        stimulus_id: body.stimulus_id,
      },
    });
    rendered = renderItem(preview, item);
  } catch (error) {
    previewError.textContent = describe(error);
  }
}
const schedulePreview = () => {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(refreshPreview, 300);
};

async function tryAnswer() {
  scoreOut.textContent = "";
  try {
    const body = collect();
    const response = rendered.read();
    if (response === null) {
      scoreOut.textContent = _("Answer the preview first.");
      return;
    }
    const result = await api("/api/v1/items/score", {
      method: "POST",
      body: { item_type: body.item_type, content: body.content, scoring: body.scoring, response },
    });
    scoreOut.textContent = result.human_scored
      ? _("Scored by a rater (0 to %(max)s points).", { max: result.max_score })
      : _("Score %(score)s of %(max)s", { score: result.score, max: result.max_score });
  } catch (error) {
    scoreOut.textContent = describe(error);
  }
}

// ---------------------------------------------------------------- item, history, lifecycle

function fill(itemDetail) {
  const latest = itemDetail.latest;
  document.querySelector("[data-title]").textContent = _("Edit %(key)s", { key: itemDetail.key });
  document.querySelector("[data-version-line]").textContent =
    _("Version %(number)s (%(status)s). Saving creates version %(next)s; earlier versions never change.", {
      number: latest.version_number,
      status: statusLabel[latest.status] || latest.status,
      next: latest.version_number + 1,
    });
  field("key").value = itemDetail.key;
  field("item_type").value = latest.item_type;
  field("title").value = latest.title || "";
  splitContent(latest.content);
  field("scoring").value = pretty(latest.scoring);
  field("curriculum_codes").value = latest.curriculum_codes.join(", ");
  field("subject").value = itemDetail.subject;
  field("grade").value = latest.grade ?? "";
  field("content_area").value = latest.content_area || "";
  field("language").value = latest.language;
  field("keywords").value = latest.keywords.join(", ");
  field("enemies").value = itemDetail.enemies.join(", ");
  field("author").value = latest.author || "";
  field("licence").value = latest.licence || "";
  field("rationale").value = latest.rationale || "";
  field("stimulus_id").value = latest.stimulus_id ?? "";
  field("read_aloud").value = latest.accessibility.read_aloud || "";
  field("furigana").value = latest.accessibility.furigana || "";
  field("large_print").checked = Boolean(latest.accessibility.large_print);
  choices.render();
  drawLifecycle(itemDetail);
  drawHistory(itemDetail);
}

function drawLifecycle(itemDetail) {
  const box = document.querySelector("[data-lifecycle]");
  box.hidden = false;
  box.querySelector("[data-latest-number]").textContent = itemDetail.latest.version_number;
  box.querySelector("[data-latest-status]").textContent =
    statusLabel[itemDetail.latest.status] || itemDetail.latest.status;
  const buttons = box.querySelector("[data-transitions]");
  buttons.replaceChildren();
  for (const to of itemDetail.allowed_transitions) {
    const button = el("button", { type: "button", text: _("Move to %(status)s", { status: statusLabel[to] || to }) });
    button.addEventListener("click", async () => {
      try {
        await api(`/api/v1/item-versions/${itemDetail.latest.id}/transitions`, {
          method: "POST",
          body: { to },
        });
        await loadItem();
        statusBox.textContent = _("Version %(number)s is now %(status)s.", {
          number: itemDetail.latest.version_number,
          status: statusLabel[to] || to,
        });
      } catch (error) {
        errorBox.textContent = describe(error);
      }
    });
    buttons.append(button);
  }
  if (!itemDetail.allowed_transitions.length) {
    buttons.append(el("span", { class: "hint", text: _("Your role has no move from here.") }));
  }
}

function drawHistory(itemDetail) {
  const box = document.querySelector("[data-history]");
  box.hidden = false;
  const body = box.querySelector("tbody");
  body.replaceChildren();
  const from = box.querySelector("[data-diff-from]");
  const to = box.querySelector("[data-diff-to]");
  from.replaceChildren();
  to.replaceChildren();
  for (const version of itemDetail.history) {
    body.append(
      el(
        "tr",
        { "data-testid": "history-row" },
        el("td", { text: `v${version.version_number}` }),
        el("td", {}, el("span", { class: `badge ${version.status}`, text: statusLabel[version.status] || version.status })),
        el("td", { text: formatDateTime(version.created_at) }),
      ),
    );
    from.append(el("option", { value: version.version_number, text: `v${version.version_number}` }));
    to.append(el("option", { value: version.version_number, text: `v${version.version_number}` }));
  }
  if (itemDetail.history.length > 1) from.selectedIndex = 1;
}

async function showDiff() {
  const box = document.querySelector("[data-history]");
  const from = box.querySelector("[data-diff-from]").value;
  const to = box.querySelector("[data-diff-to]").value;
  const table = box.querySelector("[data-diff-table]");
  const body = table.querySelector("tbody");
  const diff = await api(`/api/v1/items/${itemId}/diff?from=${from}&to=${to}`);
  body.replaceChildren();
  const show = (value) => (value === null || value === undefined ? "—" : JSON.stringify(value));
  for (const change of diff.changes) {
    body.append(
      el("tr", { "data-testid": "diff-row" }, el("td", {}, el("code", { text: change.field })),
        el("td", { text: show(change.before) }), el("td", { text: show(change.after) })),
    );
  }
  if (!diff.changes.length) body.append(el("tr", {}, el("td", { colspan: "3", text: _("No differences.") })));
  table.hidden = false;
}

async function loadItem() {
  detail = await api(`/api/v1/items/${itemId}`, { retries: 2 });
  fill(detail);
  await refreshPreview();
}

async function save(event) {
  event.preventDefault();
  errorBox.textContent = "";
  statusBox.textContent = "";
  const button = form.querySelector("[data-save]");
  button.disabled = true;
  try {
    const body = collect();
    if (itemId === null) {
      const created = await api("/api/v1/items", {
        method: "POST",
        body: { key: field("key").value.trim(), ...body },
      });
      window.location.assign(`/operator/items/${created.id}`);
      return;
    }
    delete body.enemies;
    const saved = await api(`/api/v1/items/${itemId}/versions`, {
      method: "POST",
      body: {
        ...body,
        enemies: list(field("enemies").value),
        base_version_number: detail.latest.version_number,
      },
    });
    detail = saved;
    fill(saved);
    statusBox.textContent = saved.created_version
      ? _("Saved as version %(number)s.", { number: saved.version_number })
      : _("No changes to save.");
  } catch (error) {
    errorBox.textContent = describe(error);
  } finally {
    button.disabled = false;
  }
}

async function start() {
  fillSelects();
  const { stimuli } = await api("/api/v1/stimuli", { retries: 2 });
  const select = field("stimulus_id");
  for (const stimulus of stimuli) {
    select.append(el("option", { value: stimulus.id, text: `${stimulus.key} v${stimulus.version} ${stimulus.title}` }));
  }
  for (const input of form.querySelectorAll("[data-live]")) {
    input.addEventListener("input", schedulePreview);
    input.addEventListener("change", schedulePreview);
  }
  choices = attachChoiceEditor({
    box: form.querySelector("[data-choices]"),
    field,
    onChange: schedulePreview,
  });
  form.addEventListener("submit", save);
  document.querySelector("[data-try]").addEventListener("click", tryAnswer);
  document.querySelector("[data-diff]").addEventListener("click", () =>
    showDiff().catch((error) => (errorBox.textContent = describe(error))),
  );
  if (itemId === null) {
    field("item_type").addEventListener("change", () => {
      loadExample(field("item_type").value);
      schedulePreview();
    });
    loadExample(field("item_type").value);
    await refreshPreview();
  } else {
    field("item_type").disabled = false;
    field("item_type").addEventListener("change", () => choices.render());
    await loadItem();
  }
}

start().catch((error) => (errorBox.textContent = describe(error)));
