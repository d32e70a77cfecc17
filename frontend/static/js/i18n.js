// gettext for the ES modules, from the server's own catalog (cbt/translations/<locale>/*.po,
// served as /i18n/<locale>.json): one list of strings for pages, scripts and errors.
// Placeholders are Python's, %(name)s, so a message reads the same in the .po for both sides.
// Numbers, dates and durations are formatted for the page's language (<html lang>).

export const locale = document.documentElement.lang || "ja";

async function loadCatalog() {
  const meta = document.querySelector('meta[name="cbt-catalog"]');
  if (!meta) return { nplurals: 2, messages: {} };
  try {
    const response = await fetch(meta.content, { credentials: "same-origin" });
    if (response.ok) return await response.json();
  } catch {
    /* offline or blocked: the English msgids are shown */
  }
  return { nplurals: 2, messages: {} };
}

const catalog = await loadCatalog();
const pluralRules = new Intl.PluralRules(locale);

export const formatNumber = (value, options) => new Intl.NumberFormat(locale, options).format(value);

function fill(text, params) {
  if (!params) return text;
  // As Python's %-formatting: placeholders filled, and "%%" is a literal "%" when params are given.
  return text.replace(/%\((\w+)\)s|%%/g, (whole, name) =>
    whole === "%%" ? "%" : name in params ? String(params[name]) : whole,
  );
}

export function _(message, params) {
  const translated = catalog.messages[message];
  return fill(typeof translated === "string" && translated ? translated : message, params);
}

// Plural messages: "%(n)s question" / "%(n)s questions", n filled in for the locale.
export function ngettext(singular, plural, n, params) {
  const forms = catalog.messages[singular];
  let text;
  if (Array.isArray(forms)) {
    text = catalog.nplurals === 1 ? forms[0] : forms[pluralRules.select(n) === "one" ? 0 : 1];
  }
  if (!text) text = n === 1 ? singular : plural;
  return fill(text, { n: formatNumber(n), ...params });
}

export function formatDateTime(iso) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

// A length of time as people say it: 90 s is "1 minute 30 seconds", never "2 minutes".
export function formatDuration(totalSeconds) {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const minutePart = ngettext("%(n)s minute", "%(n)s minutes", minutes);
  const secondPart = ngettext("%(n)s second", "%(n)s seconds", rest);
  if (minutes === 0) return secondPart;
  if (rest === 0) return minutePart;
  return _("%(minutes)s %(seconds)s", { minutes: minutePart, seconds: secondPart });
}
