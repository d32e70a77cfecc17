// A login card's QR code opens /login#c=CLASS&n=NUMBER&k=CODE. The fragment never reaches the
// server (nor its logs); this reads it, removes it from the address bar and history, fills the
// student login form and submits it.
export function signInFromFragment(form) {
  if (!form || !window.location.hash) return;
  const details = new URLSearchParams(window.location.hash.slice(1));
  const [classCode, number, code] = ["c", "n", "k"].map((key) => details.get(key));
  // Clear it first, so the code does not stay in the address bar even if the login fails.
  history.replaceState(history.state, "", window.location.pathname + window.location.search);
  if (!classCode || !number || !code) return;
  form.elements.class_code.value = classCode;
  form.elements.student_number.value = number;
  form.elements.login_code.value = code;
  // requestSubmit is missing on older school iPads (Safari before 16): click the button there.
  if (form.requestSubmit) form.requestSubmit();
  else form.querySelector("button[type=submit]").click();
}
