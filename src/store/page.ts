export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent at the end. */
  next?: string;
}
