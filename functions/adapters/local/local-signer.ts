import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  sign,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { p256PublicKey, requireP256, spkiDer, spkiPem } from '../../core/evidence/public-key.ts';
import {
  type EvidenceSignature,
  type PublicKeyInfo,
  SIGNATURE_ALGORITHM,
} from '../../core/evidence/signing.ts';
import type { EvidenceSigner, PublicKeyDirectory } from '../../core/ports.ts';

/**
 * The local stack's evidence signer: a P-256 key pair kept in its data folder, standing in for
 * the KMS key on AWS. The private key is created once, owner-only, and reused on every start, so
 * evidence signed yesterday still verifies today. Every public key that ever signed is kept as
 * `<publicKeysDir>/<keyId>.pem`: replacing the private key (a rotation) leaves the old public key
 * listed, marked not current.
 */

export const LOCAL_KEY_ID_PREFIX = 'kt-local-';

export interface LocalSigningFiles {
  /** PKCS #8 PEM private key, mode 0600. */
  readonly privateKeyFile: string;
  /** SPKI PEM public keys, one `<keyId>.pem` each: the current one and every retired one. */
  readonly publicKeysDir: string;
}

/** The key files are unreadable or not what they should be; the message says which and what to do. */
export class LocalSigningKeyError extends Error {
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'LocalSigningKeyError';
  }
}

/** `kt-local-` and 16 hex characters of the SHA-256 of the SPKI DER public key. */
export function localKeyIdOf(publicKey: KeyObject): string {
  return LOCAL_KEY_ID_PREFIX + createHash('sha256').update(spkiDer(publicKey)).digest('hex').slice(0, 16);
}

const PEM_SUFFIX = '.pem';

export class LocalEvidenceSigner implements EvidenceSigner, PublicKeyDirectory {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKeyPem: string,
    readonly keyId: string,
    private readonly publicKeysDir: string,
  ) {}

  /** Loads the key pair, creating it on first use; checks every listed public key can be read. */
  static async open(files: LocalSigningFiles): Promise<LocalEvidenceSigner> {
    const privateKey = await loadOrCreatePrivateKey(files.privateKeyFile);
    // A private key derives its public half; no second file has to be trusted for it.
    const publicKey = createPublicKey(privateKey);
    const signer = new LocalEvidenceSigner(
      privateKey,
      spkiPem(publicKey),
      localKeyIdOf(publicKey),
      files.publicKeysDir,
    );
    await signer.keepPublicKey(publicKey);
    await signer.publicKeys();
    return signer;
  }

  async sign(message: Uint8Array): Promise<EvidenceSignature> {
    const der = sign('sha256', message, { key: this.privateKey, dsaEncoding: 'der' });
    return { keyId: this.keyId, algorithm: SIGNATURE_ALGORITHM, signature: der.toString('base64') };
  }

  async publicKeys(): Promise<readonly PublicKeyInfo[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.publicKeysDir);
    } catch (cause) {
      throw new LocalSigningKeyError(`cannot read the public keys folder ${this.publicKeysDir}`, { cause });
    }
    const keys = await Promise.all(
      names.filter((name) => name.endsWith(PEM_SUFFIX)).map((name) => this.readPublicKey(name)),
    );
    // Its file removed while running: the key that signs is listed all the same.
    if (!keys.some((key) => key.current)) {
      keys.push({
        keyId: this.keyId,
        algorithm: SIGNATURE_ALGORITHM,
        publicKeyPem: this.publicKeyPem,
        current: true,
      });
    }
    return keys;
  }

  private async readPublicKey(name: string): Promise<PublicKeyInfo> {
    const file = path.join(this.publicKeysDir, name);
    const keyId = name.slice(0, -PEM_SUFFIX.length);
    let text: string;
    let modified: Date;
    try {
      [text, modified] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file).then((s) => s.mtime)]);
    } catch (cause) {
      throw new LocalSigningKeyError(`cannot read the public key ${file}`, { cause });
    }
    let key: KeyObject;
    try {
      key = p256PublicKey(text, `the public key file ${file}`);
    } catch (cause) {
      throw new LocalSigningKeyError(
        `${(cause as Error).message}; move it out of ${this.publicKeysDir} (evidence it signed will not verify)`,
        { cause },
      );
    }
    return {
      keyId,
      algorithm: SIGNATURE_ALGORITHM,
      publicKeyPem: spkiPem(key),
      current: keyId === this.keyId,
      // Written once when the key was created, never rewritten: its age is the key's.
      createdAt: modified.toISOString(),
    };
  }

  /** Writes the current public key's file unless it is there; one that differs is refused. */
  private async keepPublicKey(publicKey: KeyObject): Promise<void> {
    const file = path.join(this.publicKeysDir, `${this.keyId}${PEM_SUFFIX}`);
    const pem = spkiPem(publicKey);
    try {
      await fs.mkdir(this.publicKeysDir, { recursive: true });
      await fs.writeFile(file, pem, { flag: 'wx', mode: 0o644 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LocalSigningKeyError(`cannot write the public key ${file}`, { cause: error });
      }
    }
    const kept = p256PublicKey(await fs.readFile(file, 'utf8'), `the public key file ${file}`);
    if (!spkiDer(kept).equals(spkiDer(publicKey))) {
      throw new LocalSigningKeyError(
        `${file} is not the public key of the signing key it is named after; move it away and restart`,
      );
    }
  }
}

async function loadOrCreatePrivateKey(file: string): Promise<KeyObject> {
  const existing = await readPrivateKey(file);
  if (existing !== undefined) return existing;
  const { privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    // wx: a second start racing this one keeps the key the first one wrote, never a mix of both.
    await fs.writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
      flag: 'wx',
      mode: 0o600,
    });
    return privateKey;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readPrivateKey(file);
      if (raced !== undefined) return raced;
    }
    throw new LocalSigningKeyError(`cannot write the signing key ${file}`, { cause: error });
  }
}

async function readPrivateKey(file: string): Promise<KeyObject | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalSigningKeyError(`cannot read the signing key ${file}`, { cause: error });
  }
  try {
    return requireP256(createPrivateKey(text), `the signing key ${file}`);
  } catch (cause) {
    // Never replaced silently: evidence signed with it would stop verifying without anyone noticing.
    throw new LocalSigningKeyError(
      `the signing key ${file} is not a P-256 private key; move it away and the next start creates a new one`,
      { cause },
    );
  }
}
