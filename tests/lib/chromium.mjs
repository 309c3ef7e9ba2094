// Headless Chromium (Debian `chromium`) for the tests that read the gateway's status page:
// the page loaded, its own JS run against a virtual-time budget, the DOM (or a screenshot)
// out.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// Chromium: $CHROMIUM, else Debian's /usr/bin/chromium, else the first on PATH.
export function findChromium() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const dir of (process.env.PATH || '').split(':')) candidates.push(path.join(dir, 'chromium'));
  return candidates.find((c) => c && fs.existsSync(c));
}

// Runs headless Chromium on url with extra args; resolves with its stdout.
export function chromium(bin, profile, url, extra) {
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--virtual-time-budget=2500', ...extra, url];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 30000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`chromium failed: ${err.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

export const stripTags = (html) => html.replace(/<[^>]*>/g, '').trim();
