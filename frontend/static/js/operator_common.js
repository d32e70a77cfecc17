// Shared by the operator pages: the item-bank constants handed over by Python, select filling.
import { el } from "./api.js";
import { _ } from "./i18n.js";

// The statuses of an item version, as the pages show them (values from item_bank.models).
export const statusLabel = {
  draft: _("draft"),
  review: _("review"),
  pretest: _("pretest"),
  operational: _("operational"),
  retired: _("retired"),
  published: _("published"),
};

export const bank = JSON.parse(document.getElementById("item-bank-constants").textContent);
export const typeLabel = Object.fromEntries(bank.itemTypes.map((t) => [t.id, t.label]));

export function fillSelects() {
  for (const select of document.querySelectorAll("[data-type-options]")) {
    for (const type of bank.itemTypes) select.append(el("option", { value: type.id, text: type.label }));
  }
  for (const select of document.querySelectorAll("[data-status-options]")) {
    for (const status of bank.itemStatuses) select.append(el("option", { value: status, text: statusLabel[status] || status }));
  }
}

export function queryFrom(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim()) params.set(name, String(value).trim());
  }
  return params;
}
