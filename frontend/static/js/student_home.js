import { api, el, setStatus } from "./api.js";
import { _, formatDuration, ngettext } from "./i18n.js";

const statusLabel = { active: _("In progress"), finished: _("Finished"), expired: _("Time ran out") };

async function load() {
  const list = document.querySelector("[data-tests]");
  try {
    const { administrations } = await api("/api/v1/me/administrations", { retries: 4 });
    list.replaceChildren();
    if (administrations.length === 0) {
      setStatus(_("You have no open tests right now."));
      return;
    }
    setStatus("");
    for (const test of administrations) {
      const done = test.session_status === "finished" || test.session_status === "expired";
      const action = done
        ? el("span", { class: "done", text: statusLabel[test.session_status] })
        : el("a", {
            class: "button primary",
            href: `/student/tests/${test.administration_id}`,
            text: test.session_status === "active" ? _("Continue") : _("Start"),
          });
      const facts = [ngettext("up to %(n)s question", "up to %(n)s questions", test.max_items)];
      if (test.time_limit_seconds) facts.push(formatDuration(test.time_limit_seconds));
      list.append(
        el(
          "li",
          { "data-testid": "test" },
          el("div", {}, el("strong", { text: test.title }), el("small", { text: ` · ${test.name}` })),
          el("div", { class: "facts", text: facts.join(" · ") }),
          action,
        ),
      );
    }
  } catch (error) {
    setStatus(error.message, "error");
  }
}

load();
