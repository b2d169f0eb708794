// Drives the refit dashboard in headless Chromium (run by tests/dashboard.rs):
// loads the page, waits until every chart has drawn data, saves a
// screenshot, clicks the online-learning toggle and waits for the page to
// confirm it, saves a second screenshot, and prints one JSON line with what
// it saw (console errors included).
//
// usage: node dashboard.mjs URL OUT_DIR
import { chromium } from "playwright-core";

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error("usage: node dashboard.mjs URL OUT_DIR");
  process.exit(2);
}
const charts = ["chart-samples", "chart-metric", "chart-psi", "chart-lr", "chart-disk"];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = { errors: [], points: {}, toggled: null };
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on("console", (m) => { if (m.type() === "error") result.errors.push(m.text()); });
  page.on("pageerror", (e) => result.errors.push(String(e)));
  page.on("requestfailed", (r) => result.errors.push("request failed: " + r.url()));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(
    (ids) => ids.every((id) => Number(document.getElementById(id).dataset.points) > 0),
    charts, { timeout: 60000 });
  // One more refresh so the page shows the latest state.
  await page.waitForTimeout(2500);
  result.points = await page.evaluate(
    (ids) => Object.fromEntries(ids.map((id) => [id, Number(document.getElementById(id).dataset.points)])),
    charts);
  result.serving = await page.textContent("#serving");
  result.versionRows = await page.locator("#versions tbody tr").count();
  await page.screenshot({ path: `${outDir}/dashboard.png`, fullPage: true });
  const before = await page.isChecked("#online-toggle");
  await page.click(".switch .slider");
  await page.waitForFunction(
    (b) => document.getElementById("online-toggle").checked !== b
      && document.getElementById("online-msg").textContent.startsWith("saved"),
    before, { timeout: 10000 });
  result.toggled = { before, after: await page.isChecked("#online-toggle"), pill: await page.textContent("#online-pill") };
  await page.screenshot({ path: `${outDir}/dashboard-toggled.png`, fullPage: true });
} catch (e) {
  result.errors.push("driver: " + e.message);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
