// Helpers for the browser (end-to-end) suites: a real `vireo dev` on a temp copy of an example app,
// and headless Chromium (Debian's /usr/bin/chromium, installed by `make test-deps`) driven by
// playwright-core. Every server and browser started here is stopped on exit.
import fs from "node:fs";
import path from "node:path";
import { REPO, startServer, tempDir, assertAppLoaded } from "../integration/helpers.mjs";

export const CHROMIUM = process.env.VIREO_CHROMIUM || "/usr/bin/chromium";

/* `vireo dev` on a fresh copy of examples/<name> (without its .vireo/ state and node_modules:
 * tempDir's copyApp); prepare(dir) may change the copy first. */
export async function startExample(name, { prepare } = {}) {
    const src = path.join(REPO, "examples", name);
    const dir = tempDir(src);
    if (prepare) prepare(dir);
    const srv = await startServer(dir);
    await assertAppLoaded(srv);
    return srv;
}

const browsers = new Set();
process.on("exit", () => {
    for (const b of browsers) b.process?.()?.kill("SIGKILL");
});

/* Headless Chromium. playwright's launch() gives every browser a fresh temporary profile
 * (--user-data-dir), removed when it closes; it refuses one in `args`. */
export async function launchBrowser() {
    if (!fs.existsSync(CHROMIUM))
        throw new Error(`${CHROMIUM} not found: run \`make test-deps\` (installs Debian's chromium)`);
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
        timeout: 60000,
    });
    browsers.add(browser);
    browser.on("disconnected", () => browsers.delete(browser));
    return browser;
}

/* A page in its own context (own localStorage: one "user"), with console errors and uncaught
 * exceptions collected in page.errors. */
export async function openPage(browser, url) {
    const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
    const page = await context.newPage();
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
        if (m.type() === "error") page.errors.push(`console: ${m.text()}`);
    });
    page.on("response", (r) => {
        if (r.status() >= 400) page.errors.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    await page.goto(url);
    return page;
}
