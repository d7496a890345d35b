// Redis Cluster's hash slots, computed here as the cluster specification defines them, so the
// hub knows which node serves a topic without asking: before a publish (to tell "never sent"
// from "sent, no answer") and to group the topics it follows by node.

/** Slots in a Redis Cluster. */
export const SLOTS = 16384

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum the spec names.
const TABLE = new Uint16Array(256)
for (let byte = 0; byte < 256; byte++) {
  let crc = byte << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1
  TABLE[byte] = crc & 0xffff
}

function crc16 (bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!
  return crc
}

/**
 * The slot of `key`. Only its hash tag is hashed when it has one: the part between the first
 * `{` and the first `}` after it, if that part is not empty (so `a{x}` and `b{x}` share a slot).
 */
export function keySlot (key: string): number {
  let bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(0x7b)
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1)
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  return crc16(bytes) % SLOTS
}
