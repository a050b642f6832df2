package dev.capsulevm.proofs.privacy;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.EpochKey;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Objects;
import javax.security.auth.Destroyable;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.generators.X25519KeyPairGenerator;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.hpke.HPKEContext;
import org.bouncycastle.crypto.hpke.HPKEContextWithEncapsulation;
import org.bouncycastle.crypto.params.X25519KeyGenerationParameters;

/**
 * The payload cipher of one data record of a private capsule (docs/FORMAT.md, "Private capsules:
 * encryption"). The writer makes a fresh HPKE encapsulation to the epoch key for every record, bound to the
 * record's place by {@code info = "capsulevm/record/v1" || capsule id || writer || u64 height}; its
 * {@link #enc()} goes into the record header. Both sides take the record's data key from HPKE's exporter
 * ({@code Export("capsulevm/dek/v1", 32)}), and sub-record {@code i} is ChaCha20-Poly1305 under that key
 * with the nonce {@code u32 0 || u64 i} and empty aad: {@code payload = ciphertext || 16-byte tag}.
 *
 * <p>A writer needs only the epoch's public key, so a member who may add but not read can write. Every
 * record has its own key, so no nonce is used twice under one key. Thread-safe; {@link #toString} and
 * exception messages never show the key; {@link #destroy} zeroes it.
 */
public final class RecordCipher implements Destroyable {
  /** How much longer a payload is than its plaintext: the Poly1305 tag. */
  public static final int OVERHEAD = Suite.TAG_LENGTH;
  /** The length of {@link #enc()}: an X25519 public key. */
  public static final int ENC_LENGTH = Suite.KEY_LENGTH;

  private final EpochKey epochKey;
  private final byte[] enc;
  private final long height;
  private final PublicKey writer;
  private final byte[] dataKey;
  private volatile boolean destroyed;

  private RecordCipher(EpochKey epochKey, byte[] enc, PublicKey writer, long height, byte[] dataKey) {
    this.epochKey = epochKey;
    this.enc = enc;
    this.writer = writer;
    this.height = height;
    this.dataKey = dataKey;
  }

  /**
   * The writer's cipher of a new record: a fresh encapsulation to {@code epochKey} from {@code random}.
   *
   * @throws IllegalArgumentException if {@code height} is negative, or {@code epochKey} is a key nothing
   *     can be encrypted to (a small-order point)
   */
  public static RecordCipher forWriter(EpochKey epochKey, Hash capsuleId, PublicKey writer, long height,
      SecureRandom random) {
    Objects.requireNonNull(random, "random");
    X25519KeyPairGenerator generator = new X25519KeyPairGenerator();
    generator.init(new X25519KeyGenerationParameters(random));
    return forWriter(epochKey, capsuleId, writer, height, generator.generateKeyPair());
  }

  /** As {@link #forWriter(EpochKey, Hash, PublicKey, long, SecureRandom)} with a fixed ephemeral key: tests only. */
  static RecordCipher forWriter(EpochKey epochKey, Hash capsuleId, PublicKey writer, long height,
      AsymmetricCipherKeyPair ephemeral) {
    Objects.requireNonNull(epochKey, "epochKey");
    byte[] info = info(capsuleId, writer, height);
    HPKE hpke = Suite.hpke();
    HPKEContextWithEncapsulation context;
    try {
      context = hpke.setupBaseS(hpke.deserializePublicKey(epochKey.toByteArray()), info, ephemeral);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("epoch key " + epochKey.toHex() + " cannot be encrypted to", e);
    }
    return new RecordCipher(epochKey, context.getEncapsulation(), writer, height, dataKey(context));
  }

  /**
   * The reader's cipher of the record at {@code height} by {@code writer} in {@code capsuleId}, whose header
   * carries {@code enc} and names the epoch of {@code secret}. Only this record's payloads open with it.
   *
   * @throws DecryptionException if {@code enc} is not a key the epoch key pair can agree with (a
   *     small-order point: a damaged or forged header)
   * @throws IllegalArgumentException if {@code enc} is not 32 bytes or {@code height} is negative
   */
  public static RecordCipher forReader(EpochSecret secret, byte[] enc, Hash capsuleId, PublicKey writer,
      long height) throws DecryptionException {
    Objects.requireNonNull(secret, "secret");
    Objects.requireNonNull(enc, "enc");
    if (enc.length != ENC_LENGTH) {
      throw new IllegalArgumentException("a record's enc is 32 bytes, got " + enc.length);
    }
    byte[] info = info(capsuleId, writer, height);
    HPKEContext context;
    try {
      context = Suite.hpke().setupBaseR(enc, secret.keyPair(), info);
    } catch (RuntimeException e) {
      throw new DecryptionException(DecryptionException.Reason.DOES_NOT_DECRYPT, "the record at height " + height
          + " by writer " + writer.toHex() + " under epoch " + secret.epochKey().toHex()
          + " has an enc that is not a usable X25519 key", e);
    }
    return new RecordCipher(secret.epochKey(), enc.clone(), writer, height, dataKey(context));
  }

  /** The record's encapsulated key, for its header (a fresh copy). */
  public byte[] enc() {
    return enc.clone();
  }

  public EpochKey epochKey() {
    return epochKey;
  }

  /** The payload of sub-record {@code index}: {@code plaintext} encrypted, then its 16-byte tag. */
  public byte[] seal(int index, byte[] plaintext) {
    Objects.requireNonNull(plaintext, "plaintext");
    if (plaintext.length > Integer.MAX_VALUE - OVERHEAD) {
      throw new IllegalArgumentException("a sub-record of " + plaintext.length + " bytes is too long to encrypt");
    }
    return Suite.seal(live(), nonce(index), plaintext, 0, plaintext.length);
  }

  /**
   * The plaintext of sub-record {@code index}, whose stored payload is {@code payload}.
   *
   * @throws DecryptionException when it does not decrypt: changed, too short to hold a tag, moved from
   *     another index or record, or written under another epoch
   */
  public byte[] open(int index, byte[] payload) throws DecryptionException {
    Objects.requireNonNull(payload, "payload");
    byte[] nonce = nonce(index);
    try {
      return Suite.open(live(), nonce, payload);
    } catch (InvalidCipherTextException e) {
      throw new DecryptionException(DecryptionException.Reason.DOES_NOT_DECRYPT, "sub-record " + index
          + " of the record at height " + height + " by writer " + writer.toHex() + " under epoch "
          + epochKey.toHex() + " does not decrypt" + (payload.length < OVERHEAD
              ? ": its " + payload.length + " bytes are shorter than the 16-byte tag"
              : ": it was changed, or moved from another record or index"), e);
    }
  }

  /** Zeroes the record's data key; any later use throws {@link IllegalStateException}. */
  @Override
  public void destroy() {
    destroyed = true;
    Arrays.fill(dataKey, (byte) 0);
  }

  @Override
  public boolean isDestroyed() {
    return destroyed;
  }

  @Override
  public String toString() {
    return "RecordCipher[height " + height + ", writer " + writer.toHex() + ", epoch " + epochKey.toHex()
        + (destroyed ? ", destroyed" : "") + "]";
  }

  private byte[] live() {
    if (destroyed) {
      throw new IllegalStateException("the data key of the record at height " + height + " was destroyed");
    }
    return dataKey;
  }

  /** {@code "capsulevm/record/v1" || capsule id || writer || u64 height}. */
  private static byte[] info(Hash capsuleId, PublicKey writer, long height) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(writer, "writer");
    if (height < 0) {
      throw new IllegalArgumentException("a record height is not negative, got " + height);
    }
    return ByteBuffer.allocate(Suite.RECORD_INFO.length + Hash.LENGTH + PublicKey.LENGTH + Long.BYTES)
        .put(Suite.RECORD_INFO).put(capsuleId.toByteArray()).put(writer.toByteArray()).putLong(height).array();
  }

  private static byte[] dataKey(HPKEContext context) {
    return context.export(Suite.DEK_CONTEXT, Suite.KEY_LENGTH);
  }

  /** {@code u32 0 || u64 index}. */
  private static byte[] nonce(int index) {
    if (index < 0) {
      throw new IllegalArgumentException("a sub-record index is not negative, got " + index);
    }
    return ByteBuffer.allocate(Suite.NONCE_LENGTH).putInt(0).putLong(index).array();
  }
}
