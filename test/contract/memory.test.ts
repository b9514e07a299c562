import { createMemoryStores } from '../../src/store/memory/index.js';
import { describeStoreContract } from './stores.contract.js';

describeStoreContract('memory', async () => {
  const stores = createMemoryStores();
  return { stores, cleanup: () => stores.close() };
});
