export { compareEntries, type InventoryEntry, type PortcullisApi } from './inventory.js'
export { parseRouteTree, type PrintedRoute } from './route-tree.js'
