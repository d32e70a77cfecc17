// The login-cards page: issue new codes for the class and download the cards as a PDF.
import { ApiError, setStatus } from "./api.js";
import { _ } from "./i18n.js";

const main = document.getElementById("main");
const form = document.getElementById("issue-cards");
const button = form.querySelector("button[type=submit]");
const confirmBox = form.elements.confirm;
const error = form.querySelector("[data-error]");

confirmBox.addEventListener("change", () => {
  button.disabled = !confirmBox.checked;
});

// The reply is a PDF, not JSON, so this calls fetch itself (api() reads JSON replies).
async function issueCards() {
  const response = await fetch(`/api/v1/classes/${main.dataset.classroomId}/login-cards`, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      Accept: "application/pdf",
      "Accept-Language": document.documentElement.lang || "ja",
      "Content-Type": "application/json",
      "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content,
    },
    body: "{}",
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    const failure = (data && data.error) || {};
    throw new ApiError(response.status, failure.code, failure.message || response.statusText);
  }
  return response.blob();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!confirmBox.checked) return;
  error.textContent = "";
  button.disabled = true;
  setStatus(_("Issuing new login codes…"));
  try {
    const pdf = await issueCards();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(pdf);
    link.download = `login-cards-${main.dataset.classCode}.pdf`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    setStatus(_("New login codes issued. The old codes no longer work. Print the downloaded PDF."));
    confirmBox.checked = false;
  } catch (failure) {
    setStatus("");
    error.textContent =
      failure instanceof ApiError ? failure.message : _("Cannot reach the server. Try again.");
    button.disabled = !confirmBox.checked;
  }
});
