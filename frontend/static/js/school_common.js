// Shared by the school management pages: forms that post to the API and show its errors.
import { ApiError } from "./api.js";
import { _ } from "./i18n.js";

export function failureText(failure) {
  return failure instanceof ApiError ? failure.message : _("Cannot reach the server. Try again.");
}

// Submit a form through the API: clears and shows its error line, disables its button meanwhile.
export function bindForm(form, handler) {
  const error = form.querySelector("[data-error]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (error) error.textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await handler(new FormData(form));
    } catch (failure) {
      if (error) error.textContent = failureText(failure);
    } finally {
      button.disabled = false;
    }
  });
}

export const whole = (value) => (value === "" || value === null ? null : Number(value));
