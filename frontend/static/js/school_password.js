// Change my password: the current one, then the new one twice.
import { api, setStatus } from "./api.js";
import { _ } from "./i18n.js";
import { bindForm } from "./school_common.js";

const form = document.getElementById("change-password");
bindForm(form, async (data) => {
  const newPassword = data.get("new_password");
  if (newPassword !== data.get("confirm_password")) {
    form.querySelector("[data-error]").textContent = _("The two new passwords differ.");
    return;
  }
  await api("/api/v1/me/password", {
    method: "POST",
    body: { current_password: data.get("current_password"), new_password: newPassword },
  });
  form.reset();
  const mustChange = document.querySelector("[data-must-change]");
  if (mustChange) mustChange.hidden = true;
  setStatus(_("Your password was changed. Your other logins have ended."));
});
