// The operator's LTI page: register a platform through /api/v1/lti/platforms, then reload the list.
import { api, ApiError } from "./api.js";
import { _ } from "./i18n.js";

const form = document.getElementById("lti-register");
if (form) {
  const error = form.querySelector("[data-error]");
  const status = form.querySelector("[data-status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const data = new FormData(form);
    const text = (name) => String(data.get(name) || "").trim();
    const body = {
      name: text("name"),
      issuer: text("issuer"),
      client_id: text("client_id"),
      auth_login_url: text("auth_login_url"),
      token_url: text("token_url"),
      jwks_url: text("jwks_url"),
      school_code: text("school_code"),
      deployment_ids: text("deployment_ids")
        .split(/\s+/)
        .filter((value) => value),
    };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api("/api/v1/lti/platforms", { method: "POST", body });
      status.textContent = _("The platform is registered.");
      window.location.reload();
    } catch (failure) {
      error.textContent =
        failure instanceof ApiError ? failure.message : _("Cannot reach the server. Try again.");
      button.disabled = false;
    }
  });
}
