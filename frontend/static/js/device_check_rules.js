// The device check's rules, kept pure (no page, no strings) so that they are tested in Node
// (tests/unit/cbt/test_device_check_js.py) and documented once (docs/device_check.md).

// The browsers we test with, and the oldest version of each we support.
export const MINIMUM = { Chrome: 109, Edge: 109, Firefox: 115, Safari: 16 };
// Round trip in ms (median; the slowest request too) and download speed in Mbit/s.
export const ROUND_TRIP = { good: 150, warn: 500 };
export const DOWNLOAD = { good: 2, warn: 0.5 };

// The operating system from the user agent; null when it is none we know.
export function operatingSystem(ua, touchPoints = 0, platform = null) {
  if (/CrOS/.test(ua)) return "ChromeOS";
  // iPadOS's Safari asks for desktop pages: it says "Macintosh" but has a touch screen.
  if (/iPad/.test(ua) || (/Macintosh/.test(ua) && touchPoints > 1)) return "iPadOS";
  if (/iPhone|iPod/.test(ua)) return "iOS";
  if (/Android/.test(ua)) return "Android";
  if (/Windows/.test(ua)) return "Windows";
  if (/Mac OS X/.test(ua)) return "macOS";
  if (/Linux/.test(ua)) return "Linux";
  return platform || null;
}

// { name, version, os, engine, engineVersion }: the browser as people name it, and the engine
// (with its version) whose minimum counts. ``brands`` is navigator.userAgentData.brands.
export function detectBrowser(ua, { brands = null, touchPoints = 0, platform = null } = {}) {
  const os = operatingSystem(ua, touchPoints, platform);
  const match = (pattern) => {
    const found = ua.match(pattern);
    return found ? Number(found[1]) : null;
  };
  if (/Trident|MSIE/.test(ua)) {
    return { name: "Internet Explorer", version: match(/(?:MSIE |rv:)(\d+)/), os, engine: null, engineVersion: null };
  }
  // On iPadOS and iOS every browser runs Safari's engine: the system's Safari version counts.
  if (os === "iPadOS" || os === "iOS") {
    const name = /CriOS/.test(ua) ? "Chrome" : /FxiOS/.test(ua) ? "Firefox" : /EdgiOS/.test(ua) ? "Edge" : "Safari";
    const engineVersion = match(/Version\/(\d+)/) ?? match(/OS (\d+)_/);
    const version = match(/(?:CriOS|FxiOS|EdgiOS)\/(\d+)/) ?? engineVersion;
    return { name, version, os, engine: "Safari", engineVersion };
  }
  const brand = (brands || []).find((entry) => /Edge|Chrome/.test(entry.brand));
  const chromium = (name, version) => ({ name, version, os, engine: name, engineVersion: version });
  if (brand) return chromium(/Edge/.test(brand.brand) ? "Edge" : "Chrome", Number(brand.version));
  const edge = match(/Edg\/(\d+)/);
  if (edge) return chromium("Edge", edge);
  const chrome = match(/(?:HeadlessChrome|Chrome|Chromium)\/(\d+)/);
  if (chrome) return chromium("Chrome", chrome);
  const firefox = match(/Firefox\/(\d+)/);
  if (firefox) return { name: "Firefox", version: firefox, os, engine: "Firefox", engineVersion: firefox };
  const safari = /Safari/.test(ua) ? match(/Version\/(\d+)/) : null;
  if (safari) return { name: "Safari", version: safari, os, engine: "Safari", engineVersion: safari };
  return { name: null, version: null, os, engine: null, engineVersion: null };
}

// "pass" (supported), "old" (a supported browser, too old), "unknown" or "fail" (IE).
export function browserVerdict(browser) {
  if (browser.name === "Internet Explorer") return "fail";
  if (!browser.engine) return "unknown";
  if (!browser.engineVersion || browser.engineVersion < MINIMUM[browser.engine]) return "old";
  return "pass";
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// "pass", "slow" (warn), "unsteady" (warn: a fast median, a slow request) or "fail".
export function roundTripVerdict(times) {
  const middle = median(times);
  const worst = Math.max(...times);
  let state = "pass";
  if (middle >= ROUND_TRIP.warn) state = "fail";
  else if (middle >= ROUND_TRIP.good) state = "slow";
  else if (worst >= ROUND_TRIP.warn) state = "unsteady";
  return { median: middle, worst, state };
}

export function downloadVerdict(mbits) {
  if (mbits < DOWNLOAD.warn) return "fail";
  return mbits < DOWNLOAD.good ? "warn" : "pass";
}

// The window (CSS pixels): a Chromebook's 1366x768 with its browser bars, or an upright iPad,
// pass; down to 320x480 works with scrolling (a 360x640 phone); smaller fails.
export function screenVerdict(width, height) {
  if ((width >= 1000 && height >= 600) || (width >= 760 && height >= 1000)) return "pass";
  return width >= 320 && height >= 480 ? "warn" : "fail";
}

// A device pixel ratio that is not a multiple of 0.5 on a computer usually means a zoom.
export const looksZoomed = (ratio) => !Number.isInteger(ratio * 2);
