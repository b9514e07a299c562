/** Small durable state of admin jobs (e.g. the rewrap job's cursor and last report), JSON by name. */
export interface AdminJobStore {
  load(job: string): Promise<string | null>;
  save(job: string, state: string): Promise<void>;
}
