// Options and key of the choice types as a form: one row per option (text, correct, remove)
// and "Add option". The JSON fields stay the single source of truth: every edit here rewrites
// them, and an edit there redraws the rows, so both ways of authoring agree.
import { el } from "./api.js";
import { _ } from "./i18n.js";

const CHOICE_TYPES = new Set(["single_choice", "multiple_response"]);
const IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

export function attachChoiceEditor({ box, field, onChange }) {
  const rows = box.querySelector("[data-choice-rows]");
  const multiple = () => field("item_type").value === "multiple_response";

  function read(name) {
    try {
      const value = JSON.parse(field(name).value || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : null;
    } catch {
      return null;
    }
  }

  const correctIds = (scoring) => {
    const correct = scoring.correct;
    return new Set(Array.isArray(correct) ? correct : correct == null ? [] : [correct]);
  };

  // Apply ``change(content, scoring)`` to the JSON fields; false when they do not parse.
  function update(change) {
    const content = read("content");
    const scoring = read("scoring");
    if (!content || !scoring || !Array.isArray(content.options)) return false;
    change(content, scoring);
    field("content").value = JSON.stringify(content, null, 2);
    field("scoring").value = JSON.stringify(scoring, null, 2);
    onChange();
    return true;
  }

  function setCorrect(scoring, options, ids) {
    // Multiple response keeps a list in option order; single choice one id (or none).
    scoring.correct = multiple()
      ? options.map((option) => option.id).filter((id) => ids.has(id))
      : [...ids][0] ?? null;
  }

  function row(option, isCorrect) {
    const text = el("input", { "aria-label": _("Option %(id)s text", { id: option.id }), value: option.text ?? "" });
    text.addEventListener("input", () =>
      update((content) => {
        content.options.find((o) => o.id === option.id).text = text.value;
      }),
    );
    const mark = el("input", {
      type: multiple() ? "checkbox" : "radio",
      name: "choice-correct",
      "aria-label": _("Option %(id)s is correct", { id: option.id }),
    });
    mark.checked = isCorrect;
    mark.addEventListener("change", () =>
      update((content, scoring) => {
        const ids = multiple() ? correctIds(scoring) : new Set();
        if (mark.checked) ids.add(option.id);
        else ids.delete(option.id);
        setCorrect(scoring, content.options, ids);
      }),
    );
    const remove = el("button", {
      type: "button",
      class: "small",
      text: _("Remove"),
      "aria-label": _("Remove option %(id)s", { id: option.id }),
    });
    remove.addEventListener("click", () => {
      update((content, scoring) => {
        content.options = content.options.filter((o) => o.id !== option.id);
        const ids = correctIds(scoring);
        ids.delete(option.id);
        setCorrect(scoring, content.options, ids);
      });
      render();
    });
    return el(
      "tr",
      { "data-testid": "choice-row" },
      el("td", {}, el("code", { text: option.id })),
      el("td", {}, text),
      el("td", {}, mark),
      el("td", {}, remove),
    );
  }

  function render() {
    box.hidden = !CHOICE_TYPES.has(field("item_type").value);
    if (box.hidden) return;
    const content = read("content");
    const scoring = read("scoring");
    if (!content || !scoring || !Array.isArray(content.options)) {
      const hint = _("The JSON below does not parse; fix it there to edit the options here.");
      rows.replaceChildren(el("tr", {}, el("td", { colspan: "4", class: "hint", text: hint })));
      return;
    }
    const correct = correctIds(scoring);
    rows.replaceChildren(...content.options.map((option) => row(option, correct.has(option.id))));
  }

  box.querySelector("[data-add-choice]").addEventListener("click", () => {
    let added = null;
    update((content) => {
      const used = new Set(content.options.map((option) => option.id));
      added = [...IDS].find((id) => !used.has(id));
      if (added) content.options.push({ id: added, text: "" });
    });
    render();
    if (added) rows.querySelector(`[aria-label="${CSS.escape(_("Option %(id)s text", { id: added }))}"]`)?.focus();
  });
  field("content").addEventListener("input", render);
  field("scoring").addEventListener("input", render);
  return { render };
}
