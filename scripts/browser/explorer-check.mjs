// Opens an explorer page in Debian's Chromium (headless, driven over the DevTools protocol by
// puppeteer-core), waits until the page has checked every proof itself, runs axe-core (WCAG
// 2.1 A and AA) on it, and prints what a person sees as JSON, for the Rust tests to assert on.
//
//   node explorer-check.mjs URL [--screenshot FILE] [--tamper path|leaf|hide|consistency] [--swap-with 0x…]
//                               [--act KEY:BUTTON [--fill ID=VALUE,…]]   (act with KEY in the page)
//
// --tamper alters the first access's proof (a sibling hash, or a byte of the entry), leaves the
// first access out (`hide`), or alters the consistency proof (`consistency`), in the API's
// answer on its way to the page: the page, not the server, must catch it. On an institution's page the consistency check is run (Check
// clicked with the oldest and newest recorded sizes).
import puppeteer from "puppeteer-core";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const args = process.argv.slice(2);
const url = args[0];
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const screenshot = option("--screenshot");
const tamper = option("--tamper");
const swapWith = option("--swap-with");
const act = option("--act");
const fill = option("--fill");

const browser = await puppeteer.launch({
  executablePath: process.env.CUSTODIA_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
  ],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  // Everything the page sends: requests and WebSocket frames (to check that a key typed into
  // the page goes nowhere).
  const sent = [];
  page.on("request", (request) => sent.push(`${request.url()} ${request.postData() ?? ""}`));
  const devtools = await page.createCDPSession();
  await devtools.send("Network.enable");
  const sockets = [];
  devtools.on("Network.webSocketCreated", (event) => sockets.push(event.url));
  devtools.on("Network.webSocketFrameSent", (event) => sent.push(event.response.payloadData));
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });
  if (swapWith) {
    // A lying server: another patient's whole (genuine) history for this patient's page.
    await page.setRequestInterception(true);
    page.on("request", async (request) => {
      if (!request.url().includes("/api/patients/")) return request.continue();
      const other = new URL(request.url());
      other.pathname = `/api/patients/${swapWith}`;
      const body = await (await fetch(other)).text();
      request.respond({ status: 200, contentType: "application/json", body });
    });
  }
  if (tamper) {
    await page.setRequestInterception(true);
    page.on("request", async (request) => {
      if (tamper === "consistency" && request.url().includes("/api/consistency")) {
        const data = await (await fetch(request.url())).json();
        data.proof[0] = data.proof[0].slice(0, 12) + (data.proof[0][12] === "0" ? "1" : "0") + data.proof[0].slice(13);
        return request.respond({ status: 200, contentType: "application/json", body: JSON.stringify(data) });
      }
      if (!request.url().includes("/api/patients/") || tamper === "consistency") return request.continue();
      const answer = await fetch(request.url());
      const data = await answer.json();
      const proof = data.accesses[0].proof;
      const flip = (hex, at) => hex.slice(0, at) + ((parseInt(hex[at], 16) ^ 1).toString(16)) + hex.slice(at + 1);
      if (tamper === "path") proof.path[0] = flip(proof.path[0], 10);
      else if (tamper === "hide") data.accesses.shift();
      else proof.leaf = flip(proof.leaf, proof.leaf.length - 1);
      request.respond({ status: 200, contentType: "application/json", body: JSON.stringify(data) });
    });
  }
  const started = Date.now();
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.body.dataset.ready === "true", { timeout: 60000 });
  const path = new URL(url).pathname;
  if (path.startsWith("/patient/")) {
    await page.waitForFunction(
      () => document.body.dataset.checked || document.querySelector("[role=alert]"),
      { timeout: 60000 },
    );
  }
  const loadMs = Date.now() - started;
  let action = null;
  if (act) {
    // The patient types their key into the page, fills what the action asks (`--fill
    // id=value,…`: text into inputs, `on` ticks a box) and presses its button (signed in the page).
    const [key, button] = [act.slice(0, act.lastIndexOf(":")), act.slice(act.lastIndexOf(":") + 1)];
    await page.type("#patient-key", key);
    await page.click("#use-key");
    await page.waitForFunction(() => document.body.dataset.key === "ready", { timeout: 60000 });
    await page.waitForSelector(`#${button}`, { timeout: 30000 });
    for (const pair of (fill ?? "").split(",").filter(Boolean)) {
      const [id, value] = pair.split("=");
      if (value === "on") await page.click(`#${id}`);
      else if (await page.$eval(`#${id}`, (input) => input.tagName === "SELECT")) await page.select(`#${id}`, value);
      else {
        await page.$eval(`#${id}`, (input) => { input.value = ""; });
        await page.type(`#${id}`, value);
      }
    }
    await page.click(`#${button}`);
    await page.waitForFunction(() => document.body.dataset.action, { timeout: 120000 });
    action = await page.evaluate(() => ({
      state: document.body.dataset.action,
      status: document.getElementById("key-status").innerText,
      keyLeftInPage: document.getElementById("patient-key").value,
    }));
    action.keySent = sent.some((text) => text.includes(key));
    action.sockets = [...new Set(sockets)];
  }
  let consistency = null;
  if (path.startsWith("/institution/")) {
    await page.click("#consistency-check");
    await page.waitForFunction(() => document.body.dataset.consistency, { timeout: 60000 });
    consistency = await page.evaluate(() => ({
      state: document.body.dataset.consistency,
      text: document.getElementById("consistency-result").innerText,
      old: document.getElementById("consistency-old").value,
      new: document.getElementById("consistency-new").value,
    }));
  }
  const seen = await page.evaluate(() => {
    const text = (selector) => [...document.querySelectorAll(selector)].map((n) => n.innerText.trim());
    return {
      title: document.title,
      checked: document.body.dataset.checked ?? null,
      complete: document.body.dataset.complete ?? null,
      completeness: document.getElementById("completeness")?.innerText ?? null,
      summary: text("#summary p"),
      alerts: text("[role=alert]"),
      accesses: [...document.querySelectorAll("li.access")].map((li) => ({
        leaf: li.dataset.leaf,
        text: li.innerText.trim(),
        breakGlass: li.classList.contains("break-glass"),
        proof: li.querySelector(".proof")?.className ?? null,
      })),
      versions: text("li.version"),
      consents: text("li.consent"),
      control: text("#control li"),
      audit: text("#audit li, #audit p"),
      breakGlass: text("#audit-break-glass li"),
      consentEnded: text("#audit-consent-ended li"),
      body: document.body.innerText,
    };
  });
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  // Keyboard: every control of the page is reached by Tab, in order.
  const reached = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    const id = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
    if (reached.includes(id)) break;
    reached.push(id);
  }
  // Injected over DevTools, which the page's Content-Security-Policy does not apply to (the
  // policy stays on for everything the page itself does).
  await page.evaluate(AXE);
  const axe = await page.evaluate(async () =>
    (await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })).violations
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })));
  console.log(JSON.stringify({ ...seen, loadMs, consistency, action, keyboard: reached, axe, errors }));
} finally {
  await browser.close();
}
