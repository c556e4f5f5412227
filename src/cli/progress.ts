// A progress bar on stderr for long offline runs (check, learn): shown only when stderr is a
// terminal, redrawn at most ten times a second, by bytes read so that an mbox moves it too.
const REDRAW_INTERVAL_MS = 100; // ms
const BAR_WIDTH = 30; // characters

export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly totalBytes: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true && this.totalBytes > 0;
  }

  update(bytesDone: number, messages: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.lastDraw < REDRAW_INTERVAL_MS) return;
    this.lastDraw = now;
    const share = Math.min(1, bytesDone / this.totalBytes);
    const filled = Math.round(share * BAR_WIDTH);
    const rate = messages / Math.max(0.001, (now - this.started) / 1000);
    this.stream.write(`\r[${'='.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${messages} messages, ${rate.toFixed(0)}/s `);
    this.drawn = true;
  }

  /** Clears the bar's line. */
  done(): void {
    if (this.drawn) this.stream.write(`\r${' '.repeat(BAR_WIDTH + 48)}\r`);
  }
}
