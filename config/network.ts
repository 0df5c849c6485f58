/**
 * Address ranges: the parser behind the schema's CIDR fields, and the defaults of the cluster's
 * addresses (`cluster.apiServer`, `cluster.nodeCidrs`) where a config does not name them.
 */

/** A parsed CIDR: family, network address as a number, prefix length. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  /** The canonical text (`10.0.0.0/8`, `fd00::/8`). */
  readonly text: string;
}

const BITS = { 4: 32, 6: 128 } as const;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(text) || (text.match(/::/g) ?? []).length > 1) return undefined;
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const left = groups(head);
  const right = groups(tail);
  const missing = 8 - left.length - right.length;
  if ((tail === undefined && missing !== 0) || (tail !== undefined && missing < 1)) return undefined;
  const all = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
}

/** An address as a number, with its family; undefined when it is neither IPv4 nor IPv6. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // The longest run of zero groups (two or more) becomes `::`, as RFC 5952 writes it.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  if (best.start < 0) return groups.join(":");
  return `${groups.slice(0, best.start).join(":")}::${groups.slice(best.start + best.length).join(":")}`;
}

/**
 * Parses `10.0.0.0/8` or `fd00::/8`. Refuses host bits set (`10.0.0.1/8`): the API server keeps
 * such a CIDR as written, and a reader takes it for one address when it means a whole range.
 */
export function parseCidr(text: string): Cidr | { readonly error: string } {
  const match = /^([^/]+)\/([0-9]{1,3})$/.exec(text);
  if (!match) return { error: "must be a CIDR such as 10.0.0.0/8 or 192.168.1.10/32" };
  const address = parseAddress(match[1]!);
  if (!address) return { error: "must be a CIDR such as 10.0.0.0/8 or 192.168.1.10/32 (the address is not IPv4 or IPv6)" };
  const bits = BITS[address.family];
  const prefix = Number(match[2]);
  if (prefix > bits) return { error: `has a prefix longer than ${bits} bits` };
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = address.value & ~hostMask;
  const text2 = `${formatAddress(address.family, network)}/${prefix}`;
  if (network !== address.value) return { error: `has host bits set: the range is ${text2}` };
  return { family: address.family, network, prefix, text: text2 };
}

/** Whether `inner` lies wholly inside `outer` (same family). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const shift = BigInt(BITS[outer.family] - outer.prefix);
  return inner.network >> shift === outer.network >> shift;
}

/** Whether an address lies inside a CIDR. */
export function cidrIncludes(cidr: Cidr, address: string): boolean {
  const a = parseAddress(address);
  if (!a || a.family !== cidr.family) return false;
  const shift = BigInt(BITS[cidr.family] - cidr.prefix);
  return a.value >> shift === cidr.network >> shift;
}

/** The `n`th address of a range (0 is the network address itself), as text. */
export function addressInCidr(cidr: Cidr, n: number): string {
  return formatAddress(cidr.family, cidr.network + BigInt(n));
}

/** RFC 1918's private IPv4 ranges: where a cluster's nodes and API server live unless told otherwise. */
export const PRIVATE_IPV4_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] as const;

/**
 * The API server's address where a config names none: every private range, on the two ports
 * API servers listen on (443 on managed clusters, 6443 on kubeadm, kind and k3s). Wide, but never
 * the internet and never the link-local cloud metadata address (169.254.169.254); outside local,
 * synth warns until the config names the real addresses.
 */
export const DEFAULT_API_SERVER = { cidrs: [...PRIVATE_IPV4_RANGES], ports: [443, 6443] } as const;

/** The nodes' addresses where a config names none; see {@link DEFAULT_API_SERVER}. */
export const DEFAULT_NODE_CIDRS = [...PRIVATE_IPV4_RANGES] as const;
