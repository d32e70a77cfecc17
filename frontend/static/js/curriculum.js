// 学習指導要領コード with their text (the table shipped in item_bank/data, in the page's language).
import { api, el } from "./api.js";

// The texts of codes and report prefixes; an empty map when the server cannot say.
export async function codeTexts(codes) {
  const unique = [...new Set(codes)].filter(Boolean);
  if (!unique.length) return {};
  const query = new URLSearchParams();
  for (const code of unique) query.append("code", code);
  try {
    const { texts } = await api(`/api/v1/curriculum-codes/texts?${query}`, { retries: 2 });
    return texts;
  } catch {
    return {};
  }
}

// A code as shown on a page: the code itself, then its description when there is one.
export function codeLabel(code, texts) {
  const label = el("span", { class: "code-label" }, el("code", { text: code }));
  if (texts[code]) label.append(el("span", { class: "code-text", text: texts[code] }));
  return label;
}
