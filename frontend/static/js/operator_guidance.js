// Next-step guidance per curriculum area: list, write (create or replace) and remove.
import { api, el, setStatus } from "./api.js";
import { _ } from "./i18n.js";
import { codeTexts } from "./curriculum.js";

const form = document.querySelector("[data-guidance-form]");
const table = document.querySelector("[data-guidance]");

async function refresh() {
  const { guidance } = await api("/api/v1/curriculum-guidance", { retries: 3 });
  const texts = await codeTexts(guidance.map((g) => g.code_prefix));
  table.querySelector("tbody").replaceChildren(
    ...guidance.map((g) => {
      const edit = el("button", { type: "button", text: _("Edit") });
      edit.addEventListener("click", () => {
        form.code_prefix.value = g.code_prefix;
        form.text_ja.value = g.text_ja;
        form.text_en.value = g.text_en;
        form.text_ja.focus();
      });
      const remove = el("button", { type: "button", text: _("Remove") });
      remove.addEventListener("click", async () => {
        await api(`/api/v1/curriculum-guidance/${encodeURIComponent(g.code_prefix)}`, { method: "DELETE" });
        setStatus(_("Guidance removed."));
        await refresh();
      });
      return el(
        "tr",
        { "data-testid": "guidance-row" },
        el("td", {}, el("code", { text: g.code_prefix }), el("br"), el("small", { text: texts[g.code_prefix] || "" })),
        el("td", { lang: "ja", text: g.text_ja }),
        el("td", { lang: "en", text: g.text_en }),
        el("td", {}, edit, " ", remove),
      );
    }),
  );
  table.hidden = guidance.length === 0;
  if (!guidance.length) setStatus(_("No guidance written yet."));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = form.code_prefix.value.trim().toUpperCase();
  try {
    await api(`/api/v1/curriculum-guidance/${encodeURIComponent(code)}`, {
      method: "PUT",
      body: { text_ja: form.text_ja.value, text_en: form.text_en.value },
    });
    setStatus(_("Guidance saved."));
    form.reset();
    await refresh();
  } catch (error) {
    setStatus(error.message, "error");
  }
});

refresh()
  .then(() => table.hidden || setStatus(""))
  .catch((error) => setStatus(error.message, "error"));
