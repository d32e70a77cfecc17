import { api, el, setStatus } from "./api.js";

async function load() {
  const { parameter_sets: sets } = await api("/api/v1/parameter-sets", { retries: 3 });
  const table = document.querySelector("[data-table]");
  const body = table.querySelector("tbody");
  for (const set of sets) {
    body.append(
      el(
        "tr",
        {},
        el("td", { text: set.name }),
        el("td", { text: set.version }),
        el("td", { text: set.status }),
        el("td", { text: set.n_items }),
        el("td", { text: set.created_at }),
        el("td", { text: set.provenance.source || "" }),
      ),
    );
  }
  table.hidden = false;
  setStatus(sets.length ? "" : "No parameter sets yet.");
}

load().catch((error) => setStatus(error.message, "error"));
