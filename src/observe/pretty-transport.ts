/**
 * The pino transport behind `--log-format pretty`: pino-pretty with nfqwall's one-line form of
 * packet and flow records. Loaded by pino in its worker thread (logger.ts names this file).
 */
import pinoPretty, { type PrettyOptions } from 'pino-pretty';
import { FOLDED_FIELDS, prettyMessage } from './pretty-format';

export default function prettyTransport(opts: PrettyOptions): ReturnType<typeof pinoPretty> {
  return pinoPretty({
    ...opts,
    singleLine: true,
    ignore: ['pid', 'hostname', ...FOLDED_FIELDS].join(','),
    messageFormat: (log, messageKey) => prettyMessage(log, messageKey),
  });
}
