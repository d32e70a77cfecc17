// The login-cards page: issue new codes for the class, then download the PDF or show the cards
// here for printing (print CSS in css/school_cards.css). Either way the old codes stop working.
import { api, ApiError, el, setStatus } from "./api.js";
import { _ } from "./i18n.js";

const main = document.getElementById("main");
const form = document.getElementById("issue-cards");
const buttons = form.querySelectorAll("button");
const confirmBox = form.elements.confirm;
const error = form.querySelector("[data-error]");
const cardsUrl = `/api/v1/classes/${main.dataset.classroomId}/login-cards`;

const enable = () => buttons.forEach((button) => (button.disabled = !confirmBox.checked));
confirmBox.addEventListener("change", enable);

// The reply is a PDF, not JSON, so this calls fetch itself (api() reads JSON replies).
async function issuePdf() {
  const response = await fetch(cardsUrl, {
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
  const link = el("a", {
    href: URL.createObjectURL(await response.blob()),
    download: `login-cards-${main.dataset.classCode}.pdf`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return _("New login codes issued. The old codes no longer work. Print the downloaded PDF.");
}

function card(c) {
  const scan = _("Scan the QR code to log in, or type these details at:");
  const detail = (label, value) => [el("dt", { text: label }), el("dd", { text: String(value) })];
  return el(
    "article",
    { class: "login-card", "data-testid": "login-card" },
    el("p", { class: "where", text: `${c.school}  ${c.classroom}` }),
    el(
      "div",
      {},
      el("p", { class: "name", text: c.display_name }),
      el(
        "dl",
        {},
        ...detail(_("Class code"), c.class_code),
        ...detail(_("Student number"), c.student_number),
        ...detail(_("Login code"), c.login_code),
      ),
    ),
    el("div", { class: "qr" }, el("img", { src: c.qr, alt: _("QR code that signs this student in") })),
    el("p", { class: "url", text: `${scan} ${loginUrl}` }),
  );
}

let loginUrl = "";

async function issueForPrinting() {
  const reply = await api(`${cardsUrl}.json`, { method: "POST", body: {} });
  loginUrl = reply.login_url;
  const list = document.querySelector("[data-card-list]");
  list.replaceChildren(...reply.cards.map(card));
  document.querySelector("[data-cards]").hidden = false;
  return _("New login codes issued. The old codes no longer work. Print the cards below.");
}

async function run(issue) {
  if (!confirmBox.checked) return;
  error.textContent = "";
  buttons.forEach((button) => (button.disabled = true));
  setStatus(_("Issuing new login codes…"));
  try {
    setStatus(await issue());
    confirmBox.checked = false;
  } catch (failure) {
    setStatus("");
    error.textContent =
      failure instanceof ApiError ? failure.message : _("Cannot reach the server. Try again.");
  }
  enable();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  run(issuePdf);
});
form.querySelector("[data-print-view]").addEventListener("click", () => run(issueForPrinting));
document.querySelector("[data-print]").addEventListener("click", () => window.print());
