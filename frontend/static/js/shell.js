import { api } from "./api.js";

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await api("/api/v1/auth/logout", { method: "POST" }).catch(() => null);
    window.location.assign("/");
  });
}

// The language switch: remembered by a cookie and, when signed in, in the person's profile.
const localeSwitch = document.getElementById("locale-switch");
if (localeSwitch) {
  localeSwitch.addEventListener("click", async () => {
    localeSwitch.disabled = true;
    await api("/api/v1/me/locale", { method: "PUT", body: { locale: localeSwitch.dataset.locale } }).catch(
      () => null,
    );
    window.location.reload();
  });
}
