/**
 * A list of PEM certificates, as a CA file gives it: checked block by block, since OpenSSL
 * takes a file without one certificate in it as an empty list, silently (a port or a
 * connection that asks for a certificate would then trust nobody), and X509Certificate reads
 * only the first block of a file.
 */
import { X509Certificate } from 'node:crypto';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Throws an `Error` saying why unless `text` holds PEM certificates, each one valid. */
export function checkCertificateList(text: string): void {
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate in it');
  for (const block of blocks) new X509Certificate(block);
}
