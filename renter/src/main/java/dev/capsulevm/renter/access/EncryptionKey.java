package dev.capsulevm.renter.access;

import dev.capsulevm.proofs.crypto.KeyFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Objects;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.generators.X25519KeyPairGenerator;
import org.bouncycastle.crypto.params.X25519KeyGenerationParameters;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.X25519PublicKeyParameters;

/**
 * A member's X25519 key (RFC 7748), the key access strings are sealed to and the epoch secrets of the
 * private capsules it reads are wrapped to. Its file form is PEM-armoured
 * PKCS#8 (RFC 8410), like the Ed25519 key files: {@code openssl genpkey -algorithm x25519} writes the
 * same bytes. The private half leaves the process only through {@link #toPem()} and {@link #write}.
 */
public final class EncryptionKey {
  /** The length of a private or public X25519 key. */
  public static final int LENGTH = X25519PrivateKeyParameters.KEY_SIZE;

  /** id-X25519, RFC 8410 section 3. */
  private static final ASN1ObjectIdentifier ID_X25519 = new ASN1ObjectIdentifier("1.3.101.110");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final X25519PrivateKeyParameters privateKey;
  private final X25519PublicKeyParameters publicKey;

  private EncryptionKey(X25519PrivateKeyParameters privateKey) {
    this.privateKey = privateKey;
    this.publicKey = privateKey.generatePublicKey();
  }

  /** A new key from the system's secure random source. */
  public static EncryptionKey generate() {
    X25519KeyPairGenerator generator = new X25519KeyPairGenerator();
    generator.init(new X25519KeyGenerationParameters(RANDOM));
    return new EncryptionKey((X25519PrivateKeyParameters) generator.generateKeyPair().getPrivate());
  }

  /** The key with these 32 private bytes (copied); for fixed examples and tests. */
  public static EncryptionKey fromPrivateBytes(byte[] key) {
    Objects.requireNonNull(key, "key");
    if (key.length != LENGTH) {
      throw new IllegalArgumentException("an X25519 private key is 32 bytes, got " + key.length);
    }
    return new EncryptionKey(new X25519PrivateKeyParameters(key, 0));
  }

  /** A fresh copy of the 32-byte public key. */
  public byte[] publicKey() {
    return publicKey.getEncoded();
  }

  /**
   * The private key as Bouncy Castle's X25519 and HPKE take it: what opens the epoch secrets of private
   * capsules wrapped for this key ({@code EpochSecret.unwrap}). Handle with care: it is the key itself.
   */
  public X25519PrivateKeyParameters privateKeyParameters() {
    return privateKey;
  }

  /** The key pair as HPKE takes it. */
  AsymmetricCipherKeyPair keyPair() {
    return new AsymmetricCipherKeyPair(publicKey, privateKey);
  }

  /** The PEM text of this key. */
  public String toPem() {
    return KeyFile.pkcs8Pem(ID_X25519, privateKey.getEncoded());
  }

  /**
   * Parses PEM text holding one X25519 PKCS#8 private key.
   *
   * @throws IllegalArgumentException naming what is wrong when it is not such a key
   */
  public static EncryptionKey fromPem(String pem) {
    if (!(KeyFile.parsePkcs8Pem(pem) instanceof X25519PrivateKeyParameters x25519)) {
      throw new IllegalArgumentException("not an X25519 key");
    }
    return new EncryptionKey(x25519);
  }

  /**
   * Writes this key to a new file readable only by its owner (where the file system has POSIX
   * permissions). Never overwrites: strings sealed to the old key could no longer be opened.
   *
   * @throws FileAlreadyExistsException if {@code file} exists
   */
  public void write(Path file) throws IOException {
    KeyFile.writeOwnerOnly(toPem(), file);
  }

  /** Reads a key written by {@link #write} or by {@code openssl genpkey -algorithm x25519}. */
  public static EncryptionKey read(Path file) throws IOException {
    try {
      return fromPem(Files.readString(file, StandardCharsets.US_ASCII));
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "EncryptionKey[x25519 public=" + java.util.HexFormat.of().formatHex(publicKey.getEncoded())
        + ", private=<redacted>]";
  }
}
