package dev.capsulevm.proofs.privacy;

import java.nio.charset.StandardCharsets;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.modes.ChaCha20Poly1305;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.HKDFParameters;
import org.bouncycastle.crypto.params.KeyParameter;

/** The suite's primitives and the labels that bind each use of them to its purpose. */
final class Suite {
  /** X25519 keys, epoch secrets, data keys and HKDF outputs: all 32 bytes. */
  static final int KEY_LENGTH = 32;
  /** The Poly1305 tag ChaCha20-Poly1305 appends. */
  static final int TAG_LENGTH = 16;
  static final int NONCE_LENGTH = 12;

  /** HPKE info prefix of a wrap: then epoch key and member ed25519. */
  static final byte[] EPOCH_INFO = ascii("capsulevm/epoch/v1");
  /** HKDF info prefix of a previous link: then previous and new epoch keys. */
  static final byte[] PREVIOUS_INFO = ascii("capsulevm/prev/v1");
  /** HPKE info prefix of a record: then capsule id, writer ed25519 and u64 height. */
  static final byte[] RECORD_INFO = ascii("capsulevm/record/v1");
  /** HPKE exporter context of a record's data key. */
  static final byte[] DEK_CONTEXT = ascii("capsulevm/dek/v1");

  private Suite() {}

  /**
   * A new HPKE instance of the suite. Instances keep digest state between calls, so each use takes its own
   * (construction costs little next to one X25519 operation).
   */
  static HPKE hpke() {
    return new HPKE(HPKE.mode_base, HPKE.kem_X25519_SHA256, HPKE.kdf_HKDF_SHA256, HPKE.aead_CHACHA20_POLY1305);
  }

  /** HKDF-SHA256 (RFC 5869) with an empty salt, 32 bytes of output. */
  static byte[] hkdf(byte[] ikm, byte[] info) {
    HKDFBytesGenerator hkdf = new HKDFBytesGenerator(new SHA256Digest());
    hkdf.init(new HKDFParameters(ikm, null, info));
    byte[] out = new byte[KEY_LENGTH];
    hkdf.generateBytes(out, 0, out.length);
    return out;
  }

  /** ChaCha20-Poly1305 encryption with empty aad: {@code ciphertext || tag}. */
  static byte[] seal(byte[] key, byte[] nonce, byte[] plaintext, int offset, int length) {
    ChaCha20Poly1305 cipher = new ChaCha20Poly1305();
    cipher.init(true, new AEADParameters(new KeyParameter(key), 8 * TAG_LENGTH, nonce));
    byte[] out = new byte[length + TAG_LENGTH];
    int n = cipher.processBytes(plaintext, offset, length, out, 0);
    try {
      cipher.doFinal(out, n);
    } catch (InvalidCipherTextException e) {
      throw new IllegalStateException("encryption does not check a tag", e);
    }
    return out;
  }

  /**
   * ChaCha20-Poly1305 decryption with empty aad. The plaintext is returned only once the tag verifies, never
   * a byte of it otherwise.
   *
   * @throws InvalidCipherTextException when the tag does not verify or the input is shorter than a tag
   */
  static byte[] open(byte[] key, byte[] nonce, byte[] ciphertext) throws InvalidCipherTextException {
    if (ciphertext.length < TAG_LENGTH) {
      throw new InvalidCipherTextException("shorter than the tag");
    }
    ChaCha20Poly1305 cipher = new ChaCha20Poly1305();
    cipher.init(false, new AEADParameters(new KeyParameter(key), 8 * TAG_LENGTH, nonce));
    byte[] out = new byte[ciphertext.length - TAG_LENGTH];
    int n = cipher.processBytes(ciphertext, 0, ciphertext.length, out, 0);
    cipher.doFinal(out, n);
    return out;
  }

  static byte[] concat(byte[]... parts) {
    int length = 0;
    for (byte[] part : parts) {
      length += part.length;
    }
    byte[] out = new byte[length];
    int at = 0;
    for (byte[] part : parts) {
      System.arraycopy(part, 0, out, at, part.length);
      at += part.length;
    }
    return out;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
