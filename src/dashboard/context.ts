// What every view gets from the app shell: the session (role, node), whether the user may change
// things (the read-only role may not), and the shared message areas (the error banner, which shows
// the API's own error text, and a polite status line for successes). Also the helper that runs a
// timer only while the tab is visible, which the live views use to poll the API.
import { ApiError, type Session } from './api.js';

export interface AppContext {
  session: Session;
  /** False for the read-only role: editing controls are not shown. */
  canEdit: boolean;
  /** Shows the error banner (an ApiError's text, or any message). */
  showError(error: unknown): void;
  clearError(): void;
  /** Announces a success in the status line. */
  notify(message: string): void;
}

/** A view draws itself into `container` and returns what to do when the user leaves it. */
export type View = (container: HTMLElement, context: AppContext, params: string[]) => (() => void) | void;

/** The text to show for an error thrown by an API call or anything else. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.status === 0 ? error.message : `${error.message} (HTTP ${error.status})`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Calls `tick` every `intervalMs` while the page is visible (document.visibilityState), at once
 * when it becomes visible again (and at the start when `immediately`), never twice at a time (a
 * slow answer skips ticks instead of piling requests up). Returns the function that stops it.
 */
export function visiblePoller(tick: () => Promise<void>, intervalMs: number, immediately = false): () => void {
  let running = false;
  let stopped = false;
  const run = async () => {
    if (stopped || running || document.visibilityState !== 'visible') return;
    running = true;
    try {
      await tick();
    } finally {
      running = false;
    }
  };
  const timer = window.setInterval(() => void run(), intervalMs);
  const onVisibility = () => {
    if (document.visibilityState === 'visible') void run();
  };
  document.addEventListener('visibilitychange', onVisibility);
  if (immediately) void run();
  return () => {
    stopped = true;
    window.clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}
