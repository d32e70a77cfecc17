import { api, ApiError } from "./api.js";
import { _ } from "./i18n.js";
import { signInFromFragment } from "./login_qr.js";

function bind(formId, endpoint, toBody, destination) {
  const form = document.getElementById(formId);
  if (!form) return;
  const error = form.querySelector("[data-error]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api(endpoint, { method: "POST", body: toBody(new FormData(form)) });
      window.location.assign(destination);
    } catch (failure) {
      error.textContent =
        failure instanceof ApiError ? failure.message : _("Cannot reach the server. Try again.");
      button.disabled = false;
    }
  });
}

bind(
  "student-login",
  "/api/v1/auth/student-login",
  (data) => ({
    class_code: data.get("class_code").trim(),
    student_number: data.get("student_number").trim(),
    login_code: data.get("login_code").trim(),
  }),
  "/student",
);
signInFromFragment(document.getElementById("student-login"));

bind(
  "staff-login",
  "/api/v1/auth/staff-login",
  (data) => ({ email: data.get("email").trim(), password: data.get("password") }),
  "/",
);
