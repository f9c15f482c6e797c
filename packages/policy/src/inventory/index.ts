export {
  compareEntries,
  inventoryEntries,
  type InventoryEntry,
  type InventoryRoute,
  type PortcullisApi,
} from './inventory.js'
export { parseRouteTree, type PrintedRoute } from './route-tree.js'
