// Run only by browsers without ES modules (<script nomodule>): say so in the summary, in the
// page's language (the message comes from the template). Old syntax on purpose.
(function () {
  var root = document.querySelector("[data-device-check]");
  var summary = root && root.querySelector("[data-summary]");
  if (!summary) return;
  summary.textContent = root.getAttribute("data-nomodule-message");
  summary.setAttribute("data-state", "fail");
})();
