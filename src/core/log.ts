// The one way Hangar makes its logger: pino with the secret-bearing fields it could ever be handed
// redacted, so that a log line never carries a password, hash, token or key even when a whole
// object (a request body, an operation's args, a machine spec) is logged.
import pino, { type DestinationStream, type Logger } from 'pino';

const SECRET_KEYS = [
  'password', 'root_password', 'rootPasswordHash', 'firstbootScript', 'firstboot_script', 'vncPassword', 'vnc_password',
  'totp_secret', 'secret', 'token', 'key', 'otp', 'authorization', 'cookie',
];

/** Each key at the top level and up to three objects deep (pino's redact paths are explicit). */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export function makeLogger(opts: { level?: string } = {}, destination?: DestinationStream): Logger {
  const options = { level: opts.level ?? process.env.HANGAR_LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor: '[secret]' } };
  return destination ? pino(options, destination) : pino(options);
}
