// Deep Linking: hand the signed response to the platform at once (the button stays as a fallback).
const form = document.querySelector("form[data-lti-autosubmit]");
if (form) form.submit();
