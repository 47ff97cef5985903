// Issue X.509 v3 certificates in-process (RFC 5280), for the development CA and for tests.
// The ASN.1 structures come from @peculiar/asn1-x509; signatures from node:crypto.
import { createHash, createPublicKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, AuthorityKeyIdentifier, BasicConstraints,
  Certificate, ExtendedKeyUsage, Extension, Extensions, GeneralName, GeneralSubtree, GeneralSubtrees,
  KeyIdentifier, KeyUsage, KeyUsageFlags, Name, NameConstraints, RelativeDistinguishedName,
  SubjectAlternativeName, SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage,
  id_ce_nameConstraints, id_ce_subjectAltName, id_ce_subjectKeyIdentifier, id_kp_clientAuth, id_kp_serverAuth,
} from '@peculiar/asn1-x509';

export interface DistinguishedName {
  commonName: string;
  organization?: string;
}

export interface CertificateRequest {
  subject: DistinguishedName;
  /** The subject's public key (or its private key, from which the public key is derived). */
  publicKey: KeyObject;
  /** Who signs: `certificate` absent means self-signed with `privateKey`. */
  issuer: { privateKey: KeyObject; certificate?: string | X509Certificate };
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (basicConstraints cA, keyCertSign) with optional name constraints. */
  ca?: { pathLength?: number; permitted?: { dns?: string[]; ip?: string[] } };
  /** DNS names and IP addresses for subjectAltName. */
  altNames?: string[];
  extendedKeyUsage?: Array<'serverAuth' | 'clientAuth'>;
}

const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2'; // RFC 5758 §3.2
const OID_RSA_SHA256 = '1.2.840.113549.1.1.11'; // RFC 4055 §5
const OID_ED25519 = '1.3.101.112'; // RFC 8410 §3
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

/** Issues a certificate and returns it as PEM. */
export function issueCertificate(req: CertificateRequest): string {
  const publicKey = req.publicKey.type === 'private' ? createPublicKey(req.publicKey) : req.publicKey;
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const issuerCert = toX509(req.issuer.certificate);
  const subject = buildName(req.subject);
  const issuerName = issuerCert ? AsnConvert.parse(issuerCert.raw, Certificate).tbsCertificate.subject : subject;
  const issuerPublicKey = issuerCert ? issuerCert.publicKey : createPublicKey(req.issuer.privateKey);
  const signature = signatureAlgorithm(req.issuer.privateKey);

  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(),
    signature,
    issuer: issuerName,
    validity: new Validity({ notBefore: req.notBefore, notAfter: req.notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(buildExtensions(req, spki, issuerPublicKey)),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const digest = req.issuer.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const signatureValue = sign(digest, tbsDer, { key: req.issuer.privateKey, dsaEncoding: 'der' });
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: signature, signatureValue: toArrayBuffer(signatureValue) });
  return toPem(Buffer.from(AsnConvert.serialize(cert)));
}

function buildExtensions(req: CertificateRequest, spki: SubjectPublicKeyInfo, issuerKey: KeyObject): Extension[] {
  const isRsa = req.publicKey.asymmetricKeyType === 'rsa';
  const ext = (extnID: string, critical: boolean, value: unknown): Extension =>
    new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
  const list: Extension[] = [
    ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(spki))),
    ext(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({
      keyIdentifier: new KeyIdentifier(keyIdentifier(spkiOf(issuerKey))),
    })),
  ];
  if (req.ca) {
    // RFC 5280 §4.2.1.9: critical in CA certificates; §4.2.1.3 keyCertSign for CAs.
    list.push(ext(id_ce_basicConstraints, true, new BasicConstraints(
      req.ca.pathLength === undefined ? { cA: true } : { cA: true, pathLenConstraint: req.ca.pathLength },
    )));
    list.push(ext(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)));
    const permitted = [
      ...(req.ca.permitted?.dns ?? []).map((dNSName) => new GeneralName({ dNSName })),
      ...(req.ca.permitted?.ip ?? []).map((iPAddress) => new GeneralName({ iPAddress })),
    ];
    if (permitted.length > 0) {
      // RFC 5280 §4.2.1.10: "Conforming CAs MUST mark this extension as critical".
      const subtrees = new GeneralSubtrees(permitted.map((base) => new GeneralSubtree({ base })));
      list.push(ext(id_ce_nameConstraints, true, new NameConstraints({ permittedSubtrees: subtrees })));
    }
  } else {
    list.push(ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })));
    const usage = isRsa ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment : KeyUsageFlags.digitalSignature;
    list.push(ext(id_ce_keyUsage, true, new KeyUsage(usage)));
  }
  if (req.extendedKeyUsage && req.extendedKeyUsage.length > 0) {
    const oids = req.extendedKeyUsage.map((p) => (p === 'serverAuth' ? id_kp_serverAuth : id_kp_clientAuth));
    list.push(ext(id_ce_extKeyUsage, false, new ExtendedKeyUsage(oids)));
  }
  if (req.altNames && req.altNames.length > 0) {
    const names = req.altNames.map((n) => (isIP(n) ? new GeneralName({ iPAddress: n }) : new GeneralName({ dNSName: n })));
    list.push(ext(id_ce_subjectAltName, false, new SubjectAlternativeName(names)));
  }
  return list;
}

function buildName(dn: DistinguishedName): Name {
  const rdn = (type: string, value: string): RelativeDistinguishedName =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  const rdns = [];
  if (dn.organization !== undefined) rdns.push(rdn(OID_ORGANIZATION, dn.organization));
  rdns.push(rdn(OID_COMMON_NAME, dn.commonName));
  return new Name(rdns);
}

function signatureAlgorithm(key: KeyObject): AlgorithmIdentifier {
  switch (key.asymmetricKeyType) {
    case 'ec': return new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 });
    case 'rsa': return new AlgorithmIdentifier({ algorithm: OID_RSA_SHA256, parameters: DER_NULL });
    case 'ed25519': return new AlgorithmIdentifier({ algorithm: OID_ED25519 });
    default: throw new Error(`cannot sign certificates with a ${String(key.asymmetricKeyType)} key`);
  }
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(spki: SubjectPublicKeyInfo): ArrayBuffer {
  return toArrayBuffer(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest());
}

function spkiOf(key: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(key.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
}

/** RFC 5280 §4.1.2.2: positive, at most 20 octets; 128 random bits here. */
function serialNumber(): ArrayBuffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 1) & 0x7f) | 0x01;
  return toArrayBuffer(bytes);
}

function toX509(cert: string | X509Certificate | undefined): X509Certificate | undefined {
  if (cert === undefined) return undefined;
  return typeof cert === 'string' ? new X509Certificate(cert) : cert;
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
