package dev.capsulevm.proofs.crypto;

import dev.capsulevm.proofs.Domain;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Objects;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.jspecify.annotations.Nullable;

/**
 * An Ed25519 private key: the 32-byte seed of RFC 8032 and the public key derived from it. The seed is
 * never printed; {@link KeyFile} is the one way it leaves the process.
 */
public final class SigningKey {
  /** The length of a seed. */
  public static final int SEED_LENGTH = Ed25519.SECRET_KEY_SIZE;

  private static final SecureRandom RANDOM = new SecureRandom();

  private final byte[] seed;
  private final byte[] publicBytes;
  private final PublicKey publicKey;

  private SigningKey(byte[] seed) {
    this.seed = seed;
    this.publicBytes = new byte[PublicKey.LENGTH];
    Ed25519.generatePublicKey(seed, 0, publicBytes, 0);
    this.publicKey = PublicKey.copyOf(publicBytes);
  }

  /** A new key from the system's secure random source. */
  public static SigningKey generate() {
    byte[] seed = new byte[SEED_LENGTH];
    Ed25519.generatePrivateKey(RANDOM, seed);
    return new SigningKey(seed);
  }

  /** The key with this 32-byte seed (copied). */
  public static SigningKey fromSeed(byte[] seed) {
    Objects.requireNonNull(seed, "seed");
    if (seed.length != SEED_LENGTH) {
      throw new IllegalArgumentException("an Ed25519 seed is 32 bytes, got " + seed.length);
    }
    return new SigningKey(seed.clone());
  }

  /** The public half. */
  public PublicKey publicKey() {
    return publicKey;
  }

  /** Signs {@code domain.tag || message} (RFC 8032 Ed25519, deterministic). */
  public Signature sign(Domain domain, byte[] message) {
    byte[] tagged = Signing.tagged(domain, message);
    byte[] signature = new byte[Signature.LENGTH];
    Ed25519.sign(seed, 0, publicBytes, 0, tagged, 0, tagged.length, signature, 0);
    return Signature.wrap(signature);
  }

  /** A copy of the seed, for {@link KeyFile} only. */
  byte[] seed() {
    return seed.clone();
  }

  /** Compares the public halves, which determine the seeds' use; never the secret itself. */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof SigningKey other && Arrays.equals(publicBytes, other.publicBytes);
  }

  @Override
  public int hashCode() {
    return publicKey.hashCode();
  }

  @Override
  public String toString() {
    return "SigningKey[public=" + publicKey.toHex() + ", seed=<redacted>]";
  }
}
