package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import org.bouncycastle.crypto.macs.SipHash;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * The per-session keyed hash that maps record ids into coded symbols and filter bits: SipHash-2-4 under
 * a 16-byte key derived from both sides' nonces, so neither a writer (who fixes record hashes long before
 * a session) nor one peer alone can choose ids that collide.
 *
 * <p>key = first 16 bytes of {@code SHA-256("capsulevm/sync/key/v1" || capsule id || initiator nonce ||
 * responder nonce || u8 purpose || u32 round)}; purpose 1 is the rateless IBLT, 2 the Bloom filters.
 */
public final class SessionKey {
  static final byte[] LABEL = "capsulevm/sync/key/v1".getBytes(StandardCharsets.US_ASCII);
  public static final int PURPOSE_RIBLT = 1;
  public static final int PURPOSE_BLOOM = 2;

  private final byte[] key;
  private final SipHash mac = new SipHash(2, 4);
  private final byte[] buffer = new byte[32];

  public SessionKey(byte[] key) {
    if (key.length != 16) {
      throw new IllegalArgumentException("a SipHash key is 16 bytes, got " + key.length);
    }
    this.key = key.clone();
    mac.init(new KeyParameter(this.key));
  }

  public static SessionKey derive(Hash capsule, byte[] initiatorNonce, byte[] responderNonce, int purpose,
      int round) {
    MessageDigest md = Sha256.newDigest();
    md.update(LABEL);
    md.update(capsule.toByteArray());
    md.update(initiatorNonce);
    md.update(responderNonce);
    md.update((byte) purpose);
    md.update(ByteBuffer.allocate(4).putInt(round).array());
    return new SessionKey(Arrays.copyOf(md.digest(), 16));
  }

  /** SipHash-2-4 of the 32 id bytes, as the little-endian 64-bit value SipHash defines. */
  public long hash(Hash id) {
    id.copyTo(buffer, 0);
    mac.update(buffer, 0, 32);
    return mac.doFinal();
  }

  /** The same hash of an id given as four big-endian limbs. */
  public long hash(long l0, long l1, long l2, long l3) {
    putLong(buffer, 0, l0);
    putLong(buffer, 8, l1);
    putLong(buffer, 16, l2);
    putLong(buffer, 24, l3);
    mac.update(buffer, 0, 32);
    return mac.doFinal();
  }

  byte[] keyBytes() {
    return key.clone();
  }

  static void putLong(byte[] b, int off, long v) {
    for (int i = 7; i >= 0; i--) {
      b[off + i] = (byte) v;
      v >>>= 8;
    }
  }
}
