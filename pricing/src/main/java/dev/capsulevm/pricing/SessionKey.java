package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Objects;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.HKDFParameters;

/**
 * The 32-byte secret a renter and a host share for one payment session (docs/FORMAT.md, "Session key"):
 * {@code HKDF-SHA256(salt = session id, ikm = X25519(renter, host), info = "capsulevm/session/v1" ||
 * renter exchange key || host exchange key)}. It authenticates the session's tickets and its close with
 * HMAC-SHA256, which costs about a microsecond where an Ed25519 signature and its verification cost about
 * 120. Only the two ends know it: the renter signed its exchange key in the request, the host in the grant.
 */
public final class SessionKey {
  /** Bytes of the key and of every MAC it makes. */
  public static final int LENGTH = 32;
  private static final byte[] INFO = "capsulevm/session/v1".getBytes(StandardCharsets.US_ASCII);

  /** One HMAC engine per thread, keyed anew per MAC (an engine is not thread-safe; making one looks up a provider). */
  private static final ThreadLocal<Mac> HMAC = ThreadLocal.withInitial(() -> {
    try {
      return Mac.getInstance("HmacSHA256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has HmacSHA256", e);
    }
  });

  private final SecretKeySpec macKey;

  private SessionKey(byte[] key) {
    this.macKey = new SecretKeySpec(key, "HmacSHA256");
  }

  /** The renter's side: its own key pair, its signed request and the host's grant (verified by the caller). */
  public static SessionKey forRenter(ExchangeKeyPair renter, SignedSessionRequest request, SessionGrant grant)
      throws VerificationException {
    ExchangeKey mine = request.request().exchangeKey();
    if (!renter.publicKey().equals(mine)) {
      throw new IllegalArgumentException("the request carries exchange key " + mine + ", not this key pair's");
    }
    return derive(renter.agree(grant.exchangeKey()), request.sessionId(), mine, grant.exchangeKey());
  }

  /** The host's side: its key pair for this session and the renter's signed request. */
  public static SessionKey forHost(ExchangeKeyPair host, SignedSessionRequest request) throws VerificationException {
    ExchangeKey renter = request.request().exchangeKey();
    return derive(host.agree(renter), request.sessionId(), renter, host.publicKey());
  }

  private static SessionKey derive(byte[] shared, Hash sessionId, ExchangeKey renter, ExchangeKey host) {
    byte[] info = new byte[INFO.length + 2 * ExchangeKey.LENGTH];
    System.arraycopy(INFO, 0, info, 0, INFO.length);
    renter.copyTo(info, INFO.length);
    host.copyTo(info, INFO.length + ExchangeKey.LENGTH);
    HKDFBytesGenerator hkdf = new HKDFBytesGenerator(new SHA256Digest());
    hkdf.init(new HKDFParameters(shared, sessionId.toByteArray(), info));
    byte[] key = new byte[LENGTH];
    hkdf.generateBytes(key, 0, LENGTH);
    return new SessionKey(key);
  }

  /**
   * {@code HMAC-SHA256(key, tag || parts...)}, with the JDK's HMAC: its SHA-256 runs on the processor's
   * SHA instructions where there are any (a ticket and a sealed receipt are one MAC each per program).
   */
  byte[] mac(Domain tag, byte[]... parts) {
    Mac hmac = HMAC.get();
    try {
      hmac.init(macKey);
    } catch (InvalidKeyException e) {
      throw new IllegalStateException("an HMAC-SHA256 key of 32 bytes was refused", e);
    }
    hmac.update(tag.tag());
    for (byte[] part : parts) {
      hmac.update(part);
    }
    return hmac.doFinal();
  }

  /** Whether {@code mac} is this key's MAC of {@code tag || parts}, compared in constant time. */
  boolean authentic(byte[] mac, Domain tag, byte[]... parts) {
    Objects.requireNonNull(mac, "mac");
    return MessageDigest.isEqual(mac(tag, parts), mac);
  }

  /** The MAC a close request carries: {@code HMAC(key, 0x3c || session id)}. */
  public byte[] closeMac(Hash sessionId) {
    return mac(Domain.SESSION_CLOSE_MAC, sessionId.toByteArray());
  }

  /** Whether {@code mac} closes {@code sessionId} under this key. */
  public boolean closes(byte[] mac, Hash sessionId) {
    return authentic(mac, Domain.SESSION_CLOSE_MAC, sessionId.toByteArray());
  }

  /** The key's bytes, for worked examples. */
  byte[] bytes() {
    return macKey.getEncoded();
  }

  @Override
  public String toString() {
    return "session key (secret)";
  }
}
