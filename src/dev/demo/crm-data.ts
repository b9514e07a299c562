/**
 * The demo CRM's records: one organisation's accounts and contacts, in memory
 * (lost when dev mode stops). Every name is made up, every e-mail address is
 * under a reserved example domain (RFC 2606) and every phone number is in the
 * 555-01xx range set aside for fiction.
 */

export interface Account {
  id: string;
  name: string;
  industry: string;
  website: string;
  employees: number;
  city: string;
  country: string;
  owner: string;
}

export interface Contact {
  id: string;
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  title: string | null;
  accountId: string | null;
  owner: string;
  createdAt: string;
  updatedAt: string;
}

/** What a caller may set on a contact (POST and PATCH /contacts). */
export type ContactInput = Partial<Pick<Contact, 'firstName' | 'lastName' | 'email' | 'phone' | 'title' | 'accountId'>>;

const SEEDED_AT = '2026-01-05T09:00:00.000Z';

const ACCOUNTS: readonly Account[] = [
  {
    id: 'acc-100',
    name: 'Acme Anvils (demo)',
    industry: 'Manufacturing',
    website: 'https://acme-anvils.example',
    employees: 420,
    city: 'Springfield',
    country: 'US',
    owner: 'alice',
  },
  {
    id: 'acc-101',
    name: 'Globex Example Corp',
    industry: 'Energy',
    website: 'https://globex.example',
    employees: 12_000,
    city: 'Cypress Creek',
    country: 'US',
    owner: 'bob',
  },
  {
    id: 'acc-102',
    name: 'Initech Sample GmbH',
    industry: 'Software',
    website: 'https://initech.example',
    employees: 85,
    city: 'Musterstadt',
    country: 'DE',
    owner: 'alice',
  },
];

const seedContact = (id: number, firstName: string, lastName: string, title: string, accountId: string, owner: string): Contact => ({
  id: String(id),
  firstName,
  lastName,
  email: `${firstName}.${lastName}@${accountId === 'acc-102' ? 'initech' : accountId === 'acc-101' ? 'globex' : 'acme-anvils'}.example`.toLowerCase(),
  phone: `+1-555-01${String(id).padStart(2, '0')}`,
  title,
  accountId,
  owner,
  createdAt: SEEDED_AT,
  updatedAt: SEEDED_AT,
});

const CONTACTS: readonly Contact[] = [
  seedContact(1, 'Priya', 'Placeholder', 'Head of Procurement', 'acc-100', 'alice'),
  seedContact(2, 'Marco', 'Mockley', 'Plant Manager', 'acc-100', 'alice'),
  seedContact(3, 'Jun', 'Sample', 'CTO', 'acc-102', 'alice'),
  seedContact(4, 'Grace', 'Testwell', 'VP Operations', 'acc-101', 'bob'),
  seedContact(5, 'Omar', 'Dummett', 'Buyer', 'acc-101', 'bob'),
];

export class CrmBook {
  readonly #accounts = new Map(ACCOUNTS.map((a) => [a.id, { ...a }]));
  readonly #contacts = new Map(CONTACTS.map((c) => [c.id, { ...c }]));
  #nextId = CONTACTS.length + 1;

  accounts(): Account[] {
    return [...this.#accounts.values()];
  }

  account(id: string): Account | undefined {
    return this.#accounts.get(id);
  }

  hasAccount(id: string): boolean {
    return this.#accounts.has(id);
  }

  /** Contacts whose name, e-mail or title contains `q` (case-insensitive), optionally of one account. */
  contacts(filter: { q?: string | null; accountId?: string | null } = {}): Contact[] {
    const q = filter.q?.toLowerCase();
    return [...this.#contacts.values()].filter(
      (c) =>
        (!filter.accountId || c.accountId === filter.accountId) &&
        (!q || [c.firstName, c.lastName, c.email ?? '', c.title ?? ''].some((field) => field.toLowerCase().includes(q))),
    );
  }

  contact(id: string): Contact | undefined {
    return this.#contacts.get(id);
  }

  create(input: ContactInput & Pick<Contact, 'firstName' | 'lastName'>, owner: string): Contact {
    const now = new Date().toISOString();
    const contact: Contact = {
      id: String(this.#nextId++),
      firstName: input.firstName,
      lastName: input.lastName,
      email: input.email ?? null,
      phone: input.phone ?? null,
      title: input.title ?? null,
      accountId: input.accountId ?? null,
      owner,
      createdAt: now,
      updatedAt: now,
    };
    this.#contacts.set(contact.id, contact);
    return contact;
  }

  update(id: string, input: ContactInput): Contact | undefined {
    const contact = this.#contacts.get(id);
    if (!contact) return undefined;
    Object.assign(contact, input, { updatedAt: new Date().toISOString() });
    return contact;
  }
}
