// A tiny Playwright driver for the Python end-to-end tests: one JSON command per stdin line, one JSON answer per
// stdout line. Headless Debian Chromium (/usr/bin/chromium or CHROMIUM), driven by playwright-core.
//   {"op": "goto", "url": ...} {"op": "click", "selector": ...} {"op": "fill", "selector": ..., "value": ...}
//   {"op": "select", "selector": ..., "value": ...} {"op": "wait", "selector": ..., "text"?: ..., "timeout"?: ms}
//   {"op": "text", "selector": ...} {"op": "url"} {"op": "screenshot", "path": ...} {"op": "count", "selector": ...}
//   {"op": "cookies"} {"op": "close"}
//   {"op": "viewport", "width": ..., "height": ...} {"op": "scheme", "value": "dark"|"light"} (prefers-color-scheme)  {"op": "layout", "selectors": [...]}: the page's widths (no
//   horizontal scroll when scrollWidth <= innerWidth), elements with a non-empty style attribute, and whether each
//   selector's first match is visible and inside the viewport's width, and where its top is
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const profile = mkdtempSync(join(tmpdir(), "tocsin-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1280, height: 900 },
});
const page = context.pages()[0] || (await context.newPage());
page.setDefaultTimeout(10000);

async function run(cmd) {
  switch (cmd.op) {
    case "goto": await page.goto(cmd.url); return { url: page.url() };
    case "click": await Promise.all([page.waitForLoadState(), page.click(cmd.selector)]); return {};
    case "fill": await page.fill(cmd.selector, cmd.value); return {};
    case "type": await page.locator(cmd.selector).pressSequentially(cmd.value); return {};
    case "select": await page.selectOption(cmd.selector, cmd.value); return {};
    case "wait": {
      const locator = cmd.text === undefined
        ? page.locator(cmd.selector).first()
        : page.locator(cmd.selector, { hasText: cmd.text }).first();
      await locator.waitFor({ timeout: cmd.timeout || 10000 });
      return {};
    }
    case "text": return { text: await page.locator(cmd.selector).first().innerText() };
    case "count": return { count: await page.locator(cmd.selector).count() };
    case "url": return { url: page.url() };
    case "screenshot": await page.screenshot({ path: cmd.path, fullPage: true }); return {};
    case "cookies": return { cookies: await context.cookies() };
    case "viewport": await page.setViewportSize({ width: cmd.width, height: cmd.height }); return {};
    case "scheme": await page.emulateMedia({ colorScheme: cmd.value }); return {};
    case "layout": return await page.evaluate((selectors) => {
      const visible = {};
      const tops = {};
      for (const selector of selectors) {
        const element = document.querySelector(selector);
        const box = element && element.getBoundingClientRect();
        tops[selector] = box ? box.top + window.scrollY : null;
        visible[selector] = Boolean(box && box.width > 0 && box.height > 0 && box.left >= 0 &&
          box.right <= window.innerWidth + 0.5 && getComputedStyle(element).visibility !== "hidden");
      }
      return {
        scrollWidth: document.scrollingElement.scrollWidth,
        innerWidth: window.innerWidth,
        background: getComputedStyle(document.body).backgroundColor,
        inlineStyles: Array.from(document.querySelectorAll('[style]:not([style=""])'), (e) => e.outerHTML.slice(0, 120)),
        visible,
        tops,
        // what sticks out on the right (outermost first), to say why a page scrolls sideways
        wide: Array.from(document.querySelectorAll("body *"))
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .filter((e) => {  // what a scroll box of its own holds does not count
            for (let up = e.parentElement; up && up !== document.body; up = up.parentElement) {
              if (getComputedStyle(up).overflowX !== "visible") return false;
            }
            return true;
          })
          .slice(0, 5)
          .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`),
      };
    }, cmd.selectors || []);
    case "close": return { closed: true };
    default: throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let cmd;
  let answer;
  try {
    cmd = JSON.parse(line);
    answer = { ok: true, ...(await run(cmd)) };
  } catch (error) {
    answer = { ok: false, error: String(error && error.message ? error.message : error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (cmd && cmd.op === "close") break;
}
await context.close();
rmSync(profile, { recursive: true, force: true });
process.exit(0);
