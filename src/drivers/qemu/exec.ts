// Running host tools (qemu-img, genisoimage, ip) with their output captured and errors that say
// which command failed and what it printed.
import { execFile } from 'node:child_process';

export interface RunResult { stdout: string; stderr: string }

export class CommandError extends Error {
  constructor(readonly command: string, readonly code: number | string | null, readonly stderr: string) {
    super(`${command} failed${code !== null ? ` (${code})` : ''}: ${stderr.trim().split('\n').slice(-3).join(' ') || 'no output'}`);
    this.name = 'CommandError';
  }
}

export function run(file: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code ?? null;
          const detail = stderr || err.message;
          reject(new CommandError(`${file} ${args[0] ?? ''}`.trim(), typeof code === 'number' || typeof code === 'string' ? code : null, detail));
          return;
        }
        resolve({ stdout, stderr });
      });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Whether an executable answers at all (`--version` or similar). */
export async function works(file: string, args: readonly string[] = ['--version']): Promise<boolean> {
  try {
    await run(file, args, { timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}
