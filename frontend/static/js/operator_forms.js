// Shared by the operator's test and administration pages: constants from Python, and the API's
// validation errors shown next to the fields they name (linked with aria-describedby).
import { el } from "./api.js";
import { _ } from "./i18n.js";

export const delivery = JSON.parse(document.getElementById("delivery-constants").textContent);

// Clears every field error of a form and the summary above it.
export function clearErrors(form, summary) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  summary.hidden = true;
  summary.querySelector("ul").replaceChildren();
}

// Shows ``message`` in the error slot of ``name``, marks the fields it describes invalid, and
// lists it in the summary with a link that moves focus to the field.
export function showError(form, summary, name, message) {
  const slot = form.querySelector(`[data-error-for="${name}"]`) || form.querySelector('[data-error-for="section"]');
  let target = null;
  if (slot) {
    slot.textContent = message;
    for (const field of form.querySelectorAll(`[aria-describedby~="${slot.id}"]`)) {
      field.setAttribute("aria-invalid", "true");
      target = target || field;
    }
  }
  const item = target && target.id
    ? el("li", {}, el("a", { href: `#${target.id}`, text: message }))
    : el("li", { text: message });
  summary.querySelector("ul").append(item);
  summary.hidden = false;
  return target;
}

export function focusSummary(summary, text) {
  summary.querySelector("[data-error-summary-text]").textContent = text;
  summary.hidden = false;
  summary.focus();
}

// Summary links move the keyboard focus to the field, not just the scroll position.
export function linkSummary(summary) {
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    if (!link) return;
    const field = document.getElementById(link.getAttribute("href").slice(1));
    if (field) {
      event.preventDefault();
      field.focus();
    }
  });
}

export const kindLabel = {
  linear: _("Linear form"),
  loft: _("LOFT"),
  cat: _("CAT"),
  mixed: _("Mixed sections"),
};
