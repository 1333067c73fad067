/**
 * @packageDocumentation
 * Kademlia DHT: peer discovery, routing and signed records over core's Transport
 */
export {}
