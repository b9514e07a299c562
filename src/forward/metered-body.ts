/**
 * A pass-through for streamed /forward bodies: counts bytes, fails once a
 * limit is passed, and (responses) refuses to relay a given secret.
 *
 * The secret guard holds back the last `secret.length - 1` bytes of what it has
 * seen until the next chunk arrives, so the secret is found even when it is
 * split across chunks, before any byte of it has been passed on. Memory is one
 * chunk plus that tail: nothing is buffered whole.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class BodyLimitExceeded extends Error {
  override name = 'BodyLimitExceeded';
}

export class SecretInBody extends Error {
  override name = 'SecretInBody';
}

export class MeteredBody extends Transform {
  bytes = 0;
  readonly #limit: number;
  readonly #secret: Buffer | null;
  #held: Buffer = Buffer.alloc(0);

  constructor(limit: number, secret?: string) {
    super();
    this.#limit = limit;
    this.#secret = secret ? Buffer.from(secret) : null;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#limit) return callback(new BodyLimitExceeded('body exceeds the configured limit'));
    if (this.#secret === null) return callback(null, chunk);
    const window = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    if (window.includes(this.#secret)) return callback(new SecretInBody('upstream body contains the injected credential'));
    const keep = Math.min(window.length, this.#secret.length - 1);
    this.#held = Buffer.from(window.subarray(window.length - keep));
    if (window.length > keep) this.push(window.subarray(0, window.length - keep));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#held.length > 0) this.push(this.#held);
    callback();
  }
}
