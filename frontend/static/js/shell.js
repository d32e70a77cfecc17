import { api } from "./api.js";

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await api("/api/v1/auth/logout", { method: "POST" }).catch(() => null);
    window.location.assign("/");
  });
}
