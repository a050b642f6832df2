package dev.capsulevm.proofs.crypto;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.crypto.params.AsymmetricKeyParameter;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;
import org.bouncycastle.util.io.pem.PemWriter;

/**
 * The file form of a signing key: PEM-armoured PKCS#8 (RFC 8410), the form {@code openssl genpkey
 * -algorithm ed25519} writes and reads, so operators can inspect and convert keys with standard tools.
 */
public final class KeyFile {
  private static final String PEM_TYPE = "PRIVATE KEY";
  /** id-Ed25519, RFC 8410 section 3. */
  private static final ASN1ObjectIdentifier ID_ED25519 = new ASN1ObjectIdentifier("1.3.101.112");

  private KeyFile() {}

  /** The PEM text of {@code key}. */
  public static String toPem(SigningKey key) {
    return pkcs8Pem(ID_ED25519, key.seed());
  }

  /**
   * Parses PEM text holding one Ed25519 PKCS#8 private key.
   *
   * @throws IllegalArgumentException naming what is wrong when it is not such a key
   */
  public static SigningKey fromPem(String pem) {
    if (!(parsePkcs8Pem(pem) instanceof Ed25519PrivateKeyParameters ed25519)) {
      throw new IllegalArgumentException("not an Ed25519 key");
    }
    return SigningKey.fromSeed(ed25519.getEncoded());
  }

  /**
   * The PEM text of a private key of the RFC 8410 algorithm {@code algorithm} with raw bytes {@code
   * privateKey}: version 1 PKCS#8 without the optional public key, the exact form openssl writes.
   */
  public static String pkcs8Pem(ASN1ObjectIdentifier algorithm, byte[] privateKey) {
    try {
      PrivateKeyInfo info = new PrivateKeyInfo(new AlgorithmIdentifier(algorithm), new DEROctetString(privateKey));
      StringWriter out = new StringWriter();
      try (PemWriter pem = new PemWriter(out)) {
        pem.writeObject(new PemObject(PEM_TYPE, info.getEncoded()));
      }
      return out.toString();
    } catch (IOException e) {
      throw new IllegalStateException("encoding a " + algorithm + " key failed", e);
    }
  }

  /**
   * The private key in PEM text holding one PKCS#8 block, of whatever algorithm; callers check the type.
   *
   * @throws IllegalArgumentException naming what is wrong when it is no such block
   */
  public static AsymmetricKeyParameter parsePkcs8Pem(String pem) {
    PemObject object;
    try (PemReader reader = new PemReader(new StringReader(pem))) {
      object = reader.readPemObject();
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("not a PEM key file: " + e.getMessage(), e);
    }
    if (object == null || !PEM_TYPE.equals(object.getType())) {
      throw new IllegalArgumentException("not a PEM \"" + PEM_TYPE + "\" block");
    }
    try {
      return PrivateKeyFactory.createKey(object.getContent());
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("malformed PKCS#8 private key: " + e.getMessage(), e);
    }
  }

  /**
   * Writes {@code key} to a new file readable only by its owner (where the file system has POSIX
   * permissions). Never overwrites: a key is too easy to lose.
   *
   * @throws FileAlreadyExistsException if {@code file} exists
   */
  public static void write(SigningKey key, Path file) throws IOException {
    writeOwnerOnly(toPem(key), file);
  }

  /**
   * Writes {@code pem} to a new file readable only by its owner (where the file system has POSIX
   * permissions); never overwrites.
   *
   * @throws FileAlreadyExistsException if {@code file} exists
   */
  public static void writeOwnerOnly(String pem, Path file) throws IOException {
    if (file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } else {
      Files.createFile(file);
    }
    Files.write(file, pem.getBytes(StandardCharsets.US_ASCII));
  }

  /** Reads a key written by {@link #write} or by {@code openssl genpkey -algorithm ed25519}. */
  public static SigningKey read(Path file) throws IOException {
    return fromPem(Files.readString(file, StandardCharsets.US_ASCII));
  }
}
