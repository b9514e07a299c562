/**
 * A pass-through for streamed /forward bodies: counts bytes, fails once a
 * limit is passed, and (responses) refuses to relay a given secret.
 *
 * The secret guard holds back the last `longest form - 1` bytes of what it has
 * seen until the next chunk arrives, so the secret (in any of the forms given)
 * is found even when it is split across chunks, before any byte of it has been
 * passed on. Memory is one
 * chunk plus that tail: nothing is buffered whole.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';

export interface MeterOptions {
  limit: number;
  /** The error the stream fails with past the limit (it reaches the error handler when nothing was relayed yet). */
  tooLarge: () => Error;
  /** A value that must not pass (in any of these forms: plain, escaped …), and the error the stream fails with if it would. */
  secret?: { forms: readonly string[]; found: () => Error };
}

export class MeteredBody extends Transform {
  bytes = 0;
  readonly #options: MeterOptions;
  readonly #forms: Buffer[];
  readonly #holdBack: number;
  #held: Buffer = Buffer.alloc(0);

  constructor(options: MeterOptions) {
    super();
    this.#options = options;
    this.#forms = (options.secret?.forms ?? []).filter((f) => f.length > 0).map((f) => Buffer.from(f));
    this.#holdBack = Math.max(0, ...this.#forms.map((f) => f.length - 1));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#options.limit) return callback(this.#options.tooLarge());
    if (this.#forms.length === 0) return callback(null, chunk);
    const window = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    if (this.#forms.some((form) => window.includes(form))) return callback(this.#options.secret!.found());
    const keep = Math.min(window.length, this.#holdBack);
    this.#held = Buffer.from(window.subarray(window.length - keep));
    if (window.length > keep) this.push(window.subarray(0, window.length - keep));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#held.length > 0) this.push(this.#held);
    callback();
  }
}

/**
 * An upstream answer into `meter` with stream.pipeline's failure rule (an error or early
 * close on either side destroys both, so a cut-short relay aborts the other
 * end) but without pipeline's per-call AbortController, whose abort on every
 * normal finish builds a DOMException with a stack (≈ 15 µs per forward in
 * the profile).
 */
export function relayInto(source: Readable, meter: MeteredBody): void {
  source.once('error', (err) => meter.destroy(err));
  meter.once('error', (err) => source.destroy(err));
  meter.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(meter);
}
