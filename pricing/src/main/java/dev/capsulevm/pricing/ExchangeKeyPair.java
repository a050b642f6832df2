package dev.capsulevm.pricing;

import dev.capsulevm.proofs.VerificationException;
import java.security.SecureRandom;
import java.util.Objects;
import org.bouncycastle.crypto.agreement.X25519Agreement;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.X25519PublicKeyParameters;

/**
 * An X25519 key pair drawn for one payment session and never stored: the renter's and the host's halves of
 * the session's shared secret (docs/FORMAT.md, "Session key"). Losing it ends the session, which is the
 * point: a host that restarts has forgotten every session and the renter opens a new one.
 */
public final class ExchangeKeyPair {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final X25519PrivateKeyParameters secret;
  private final ExchangeKey publicKey;

  private ExchangeKeyPair(X25519PrivateKeyParameters secret) {
    this.secret = secret;
    this.publicKey = ExchangeKey.copyOf(secret.generatePublicKey().getEncoded());
  }

  /** A fresh key pair from a strong random source. */
  public static ExchangeKeyPair generate() {
    return new ExchangeKeyPair(new X25519PrivateKeyParameters(RANDOM));
  }

  /** The key pair of a fixed 32-byte scalar (RFC 7748 clamps it): for worked examples and tests. */
  public static ExchangeKeyPair fromScalar(byte[] scalar) {
    Objects.requireNonNull(scalar, "scalar");
    if (scalar.length != X25519PrivateKeyParameters.KEY_SIZE) {
      throw new IllegalArgumentException("an X25519 scalar is " + X25519PrivateKeyParameters.KEY_SIZE
          + " bytes, got " + scalar.length);
    }
    return new ExchangeKeyPair(new X25519PrivateKeyParameters(scalar, 0));
  }

  /** The public half, sent to the other side. */
  public ExchangeKey publicKey() {
    return publicKey;
  }

  /**
   * X25519 of this secret and the peer's public key.
   *
   * @throws VerificationException when the result is all zeros: the peer sent a small-order point, which
   *     would make the secret known to anyone (RFC 7748, section 6.1)
   */
  byte[] agree(ExchangeKey peer) throws VerificationException {
    byte[] shared = new byte[X25519PrivateKeyParameters.SECRET_SIZE];
    try {
      X25519Agreement agreement = new X25519Agreement();
      agreement.init(secret);
      agreement.calculateAgreement(new X25519PublicKeyParameters(peer.toByteArray(), 0), shared, 0);
    } catch (IllegalStateException e) {
      // Bouncy Castle refuses an all-zero result this way.
      throw Codec.malformed("exchange key " + peer + " gives an all-zero X25519 secret");
    }
    int any = 0;
    for (byte b : shared) {
      any |= b;
    }
    if (any == 0) {
      throw Codec.malformed("exchange key " + peer + " gives an all-zero X25519 secret");
    }
    return shared;
  }

  @Override
  public String toString() {
    return "X25519 key pair " + publicKey;
  }
}
