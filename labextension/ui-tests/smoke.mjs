// The quick, kernel-free part of the browser tests: a saved notebook with vel_jupyter
// outputs renders with our MIME renderer and no kernel (ui.test.mjs, test "saved
// notebook ..."). Same variables as ui.test.mjs; `make ui-test` runs everything.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { status, signal } = spawnSync(process.execPath, ['--test-reporter=spec', '--test-name-pattern=^saved notebook', join(here, 'ui.test.mjs')], { stdio: 'inherit' });
process.exit(status ?? (signal ? 1 : 0));
