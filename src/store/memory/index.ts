export { createMemoryStores } from './memory-stores.js';
