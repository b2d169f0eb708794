// Drives the refit dashboard in headless Chromium (run by tests/dashboard.rs):
// loads the page, waits until every chart has drawn data, saves a
// screenshot, clicks the online-learning toggle and waits for the page to
// confirm it, saves a second screenshot, and prints one JSON line with what
// it saw (console errors included).
//
// Then it works every experiment and training control (challenger,
// shadow, ensemble weight, training from the sample log and from a CSV
// file), reading the API after each to see what it changed.
//
// usage: node dashboard.mjs URL OUT_DIR CSV_FILE
import { chromium } from "playwright-core";

const [url, outDir, csvFile] = process.argv.slice(2);
if (!url || !outDir || !csvFile) {
  console.error("usage: node dashboard.mjs URL OUT_DIR CSV_FILE");
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

  // The experiment and training controls, each followed by what the API says.
  const api = (path) => page.evaluate((p) => fetch(p).then((r) => r.json()), path);
  const msgStarts = (id, prefix) => page.waitForFunction(
    ([i, p]) => document.getElementById(i).textContent.startsWith(p), [id, prefix], { timeout: 20000 });
  const until = async (check, what) => {
    for (let i = 0; i < 100; i++) {
      const v = await check();
      if (v !== undefined) return v;
      await page.waitForTimeout(200);
    }
    throw new Error("timed out waiting for " + what);
  };
  const listed = await api("/v1/versions");
  const other = listed.find((v) => !v.active && v.intact).version;
  result.other = other;
  await page.waitForFunction((v) => [...document.getElementById("challenger-version").options].some((o) => o.value === v), other);
  await page.selectOption("#challenger-version", other);
  await page.fill("#challenger-share", "0.2");
  await page.click("#challenger-start");
  await msgStarts("ab-msg", "test started");
  const started = (await api("/v1/stats")).ab;
  await page.click("#challenger-end");
  await msgStarts("ab-msg", "test ended");
  result.challenger = { share: started.share, version: started.challenger, endedShare: (await api("/v1/stats")).ab.share };
  await page.selectOption("#shadow-version", other);
  await page.click("#shadow-set");
  await msgStarts("ab-msg", "shadow: ");
  const shadow = (await api("/v1/stats")).ab.shadow;
  await page.click("#shadow-clear");
  await msgStarts("ab-msg", "shadow removed");
  result.shadow = { set: shadow, cleared: (await api("/v1/stats")).ab.shadow };
  await page.fill("#ensemble-weight", "0.3");
  await page.click("#ensemble-apply");
  await msgStarts("train-msg", "saved");
  result.ensembleWeight = await until(async () => {
    const w = (await api("/v1/stats")).ab.ensemble_weight;
    return w === 0.3 ? w : undefined;
  }, "the ensemble weight");
  const offline = async () => (await api("/v1/versions")).filter((v) => v.version.startsWith("v")).map((v) => v.version);
  await page.click("#train-log");
  await msgStarts("train-msg", "started");
  result.trainedFromLog = await until(async () => { const v = await offline(); return v.length >= 1 ? v : undefined; }, "a version trained from the log");
  await page.setInputFiles("#train-file", csvFile);
  await page.click("#train-csv");
  await msgStarts("train-msg", "started");
  result.trainedFromFile = await until(async () => { const v = await offline(); return v.length >= 2 ? v : undefined; }, "a version trained from the file");
  await page.waitForTimeout(2500);
  await page.screenshot({ path: `${outDir}/dashboard-experiments.png`, fullPage: true });
} catch (e) {
  result.errors.push("driver: " + e.message);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
