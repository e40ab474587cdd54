// The explorer page of `collab serve`, driven in a real headless browser (Debian's chromium
// through playwright-core): search a title and see its neighbours, open a user and see their
// recommendations beside what they rated, hover the PCA map, read the biases, recommend for a new
// user from two ratings; titles holding HTML stay text. Trains a small model on a catalogue it
// writes itself, serves it on a free port, and stops the server with SIGTERM (exit 0 expected).
//   node tests/browser/explorer_test.mjs COLLAB_BINARY [SCREENSHOT_DIR]
// Exit 0: passed; 1: failed; 77: skipped (no chromium or playwright-core; CTest reports a skip).
import {spawn, spawnSync} from "node:child_process";
import {existsSync, mkdtempSync, writeFileSync, mkdirSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";

const SKIP = 77;
const [collab, screenshots] = process.argv.slice(2);
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!collab) {
  console.error("usage: explorer_test.mjs COLLAB_BINARY [SCREENSHOT_DIR]");
  process.exit(2);
}
if (!existsSync(chromiumPath)) {
  console.log(`skipped: no chromium at ${chromiumPath} (apt-get install chromium)`);
  process.exit(SKIP);
}
let chromium;
try {
  ({chromium} = await import("playwright-core"));
} catch {
  console.log("skipped: playwright-core is not installed (cd tests/browser && npm ci)");
  process.exit(SKIP);
}

// 40 films with distinct titles (one holding HTML), 60 users who each rate 15 of them.
function writeCatalogue(dir) {
  const titles = [];
  for (let i = 1; i <= 40; ++i) titles.push(`Film Number ${i} (19${50 + i})`);
  titles[0] = "Star Wars (1977)";
  titles[1] = "Star Trek: The Motion Picture (1979)";
  titles[6] = "Bold <b>Move</b> & Co (1999)";
  const flags = (i) => Array.from({length: 19}, (_, g) => (g === i % 19 ? 1 : 0)).join("|");
  writeFileSync(join(dir, "u.item"), titles.map((t, i) =>
    `${i + 1}|${t}|01-Jan-1990||http://example.com|${flags(i)}`).join("\n") + "\n");
  const train = [], valid = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let u = 1; u <= 60; ++u) {
    for (let j = 0; j < 15; ++j) {
      const item = ((u * 7 + j * 3) % 40) + 1;
      const taste = (u % 2 === item % 2) ? 4 : 2;
      const stars = Math.max(1, Math.min(5, taste + Math.round(next() * 2 - 1)));
      (j < 13 ? train : valid).push(`${u}\t${item}\t${stars}\t${880000000 + u * 100 + j}`);
    }
  }
  writeFileSync(join(dir, "train.tsv"), train.join("\n") + "\n");
  writeFileSync(join(dir, "valid.tsv"), valid.join("\n") + "\n");
  writeFileSync(join(dir, "config.json"), JSON.stringify({
    data: {train: "train.tsv", valid: "valid.tsv", items: "u.item"},
    model: {arch: "DotProductBias", n_factors: 8, y_range: [0, 5.5]},
    train: {epochs: 3, batch_size: 32, threads: 1},
  }));
}

// Starts `collab serve` on a free port; resolves with its URL once it says it is serving.
function startServer(run) {
  const server = spawn(collab, ["serve", run, "--port", "0", "--watch", "0"],
                       {stdio: ["ignore", "ignore", "pipe"]});
  let log = "";
  const url = new Promise((resolve, reject) => {
    server.stderr.on("data", (chunk) => {
      log += chunk;
      const m = log.match(/on (http:\/\/[^ ]+\/)/);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`collab serve exited ${code}: ${log}`)));
  });
  return {server, url, log: () => log};
}

const checks = [];
function check(ok, what) {
  checks.push([ok, what]);
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
}

const dir = mkdtempSync(join(tmpdir(), "collab-browser-"));
let browser, served;
try {
  writeCatalogue(dir);
  const run = join(dir, "run");
  const trained = spawnSync(collab, ["train", join(dir, "config.json"), "--run-dir", run, "--quiet"],
                            {encoding: "utf8"});
  if (trained.status !== 0) throw new Error(`collab train failed: ${trained.stderr}`);
  served = startServer(run);
  const url = await served.url;
  browser = await chromium.launch({executablePath: chromiumPath,
                                   args: ["--no-sandbox", "--disable-gpu"]});
  const page = await browser.newPage({viewport: {width: 1280, height: 1000}});
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => /DotProductBias/.test(
    document.getElementById("model-info").textContent));
  check(true, "the page loads and names the model");
  if (screenshots) mkdirSync(screenshots, {recursive: true});
  const shot = async (name) => {
    if (screenshots) await page.screenshot({path: join(screenshots, name), fullPage: true});
  };

  // Search a title, pick it, see its neighbours.
  await page.fill("#item-search", "star");
  await page.waitForSelector("#item-matches button");
  const matches = await page.$$eval("#item-matches button", (bs) => bs.map((b) => b.textContent));
  check(matches.includes("Star Wars (1977)") && matches.length === 2,
        `searching "star" lists the two Star titles (${JSON.stringify(matches)})`);
  await page.click("#item-matches button:text-is('Star Wars (1977)')");
  await page.waitForSelector("#similar-list tr:nth-child(11)");
  const heading = await page.textContent("#similar-heading");
  const neighbours = await page.$$eval("#similar-list tr", (rows) => rows.length - 1);
  check(heading === "nearest to Star Wars (1977)" && neighbours === 10,
        `its 10 neighbours are listed under "${heading}"`);
  await shot("similar.png");

  // A title holding HTML stays text.
  await page.fill("#item-search", "bold");
  await page.waitForSelector("#item-matches button:text-is('Bold <b>Move</b> & Co (1999)')");
  const injected = await page.$$eval("#item-matches b", (bs) => bs.length);
  check(injected === 0, "a title holding <b> is shown as text, not markup");

  // Open a user.
  await page.fill("#user-id", "5");
  await page.click("#user-go");
  await page.waitForSelector("#user-recs tr:nth-child(11)");
  const rated = await page.$$eval("#user-rated tr", (rows) => rows.length - 1);
  const recTitles = await page.$$eval("#user-recs tr td:nth-child(2)", (c) => c.map((x) => x.textContent));
  const ratedTitles = await page.$$eval("#user-rated tr td:nth-child(1)", (c) => c.map((x) => x.textContent));
  check(rated === 13, `user 5's 13 training ratings are listed (${rated})`);
  check(recTitles.length === 10 && !recTitles.some((t) => ratedTitles.includes(t)),
        "user 5 gets 10 recommendations, none of them already rated");
  await shot("user.png");
  await page.fill("#user-id", "nobody");
  await page.click("#user-go");
  await page.waitForFunction(() => document.getElementById("user-error").textContent !== "");
  check(/"nobody"/.test(await page.textContent("#user-error")), "an unknown user is named in an error");

  // The map: one point per item, a hover shows the title, a click shows the neighbours.
  const points = await page.$$eval("#item-map circle", (cs) => cs.length);
  check(points === 40, `the PCA map has a point per item (${points})`);
  await page.hover("#item-map circle:nth-of-type(1)");
  const tip = await page.textContent("#map-tip");
  check(/\(\d{4}\)$/.test(tip), `hovering a point shows its title ("${tip}")`);
  await shot("map.png");

  // Biases.
  const biasRows = await page.$$eval("#bias-high tr, #bias-low tr", (rows) => rows.length - 2);
  check(biasRows === 20, `the highest and lowest 10 biases are listed (${biasRows})`);

  // A new user from two ratings.
  const items = await page.$$("#new-rows .new-item");
  await items[0].fill("Star Wars (1977)");
  await items[1].fill("3");
  await page.selectOption("#new-rows .new-row:nth-child(2) .new-rating", "1");
  await page.click("#new-go");
  await page.waitForSelector("#new-recs tr:nth-child(11)");
  const newTitles = await page.$$eval("#new-recs tr td:nth-child(2)", (c) => c.map((x) => x.textContent));
  check(newTitles.length === 10 && !newTitles.includes("Star Wars (1977)"),
        "a new user rating two films gets 10 recommendations without them");
  await shot("new-user.png");
  check(errors.length === 0, `no script errors (${errors.join("; ")})`);
} catch (e) {
  check(false, `the test ran to its end: ${e.stack || e}`);
} finally {
  if (browser) await browser.close();
  if (served) {
    served.server.kill("SIGTERM");
    const code = await new Promise((resolve) => {
      if (served.server.exitCode !== null) resolve(served.server.exitCode);
      else served.server.on("exit", (c) => resolve(c));
    });
    check(code === 0, `collab serve exits 0 on SIGTERM (${code})`);
  }
  rmSync(dir, {recursive: true, force: true});
}
const failed = checks.filter(([ok]) => !ok).length;
console.log(failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`);
process.exit(failed ? 1 : 0);
