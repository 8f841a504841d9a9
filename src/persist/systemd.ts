// systemd's notification protocol (sd_notify), for a unit with Type=notify
// and NotifyAccess=all (scripts/weft.service): READY=1 once weft listens,
// and MAINPID=<pid> when a successor takes over, so systemd follows the new
// process instead of taking the old one's exit for the service's end. Without
// $NOTIFY_SOCKET (not under systemd, or another Type) nothing is sent.

import { native } from '../io/native.js';
import type { Logger } from '../log/logger.js';

export function notifySystemd(message: string, log: Logger): void {
  const path = process.env.NOTIFY_SOCKET;
  if (!path) return;
  try {
    native().notify(path, message);
  } catch (e) {
    log.warn(`telling systemd ${message.replace(/\n/g, ' ')} failed: ${(e as Error).message}`);
  }
}
