package dev.capsulevm.proofs.privacy;

import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import javax.security.auth.Destroyable;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.hpke.HPKEContext;
import org.bouncycastle.crypto.hpke.HPKEContextWithEncapsulation;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.X25519PublicKeyParameters;
import org.jspecify.annotations.Nullable;

/**
 * The 32-byte secret of one epoch of a private capsule (docs/FORMAT.md, "Private capsules: encryption").
 * It derives the epoch's X25519 key pair by RFC 9180 {@code DeriveKeyPair}; the public half is the
 * {@linkplain #epochKey epoch key} writers encrypt records to, the private half opens them. Readers get the
 * secret {@linkplain #wrapFor wrapped} to their X25519 key, and a newer epoch's secret opens the
 * {@linkplain #sealPrevious links} to older ones.
 *
 * <p>The secret leaves this object only through {@link #toBytes()} and the wraps and links it makes;
 * {@link #toString} shows the epoch key alone. {@link #destroy} zeroes this object's copy of the secret (Bouncy
 * Castle's private key object cannot be cleared and is left to the garbage collector). Immutable until
 * destroyed, and safe to share between threads.
 */
public final class EpochSecret implements Destroyable {
  /** The length of a secret. */
  public static final int LENGTH = Suite.KEY_LENGTH;
  /** The length of a wrapped or sealed secret: the secret and a 16-byte tag. */
  public static final int SEALED_LENGTH = LENGTH + Suite.TAG_LENGTH;

  private static final byte[] NONCE_ZERO = new byte[Suite.NONCE_LENGTH];

  private final byte[] secret;
  private final AsymmetricCipherKeyPair keyPair;
  private final EpochKey epochKey;
  private volatile boolean destroyed;

  /** Takes ownership of {@code secret}. */
  private EpochSecret(byte[] secret) {
    this.secret = secret;
    HPKE hpke = Suite.hpke();
    this.keyPair = hpke.deriveKeyPair(secret);
    this.epochKey = EpochKey.copyOf(hpke.serializePublicKey(keyPair.getPublic()));
  }

  /** A new secret of 32 bytes from {@code random}, for a new epoch. */
  public static EpochSecret generate(SecureRandom random) {
    byte[] secret = new byte[LENGTH];
    random.nextBytes(secret);
    return new EpochSecret(secret);
  }

  /**
   * The secret with these 32 bytes (copied): one kept by its holder, or a fixed example's.
   *
   * @throws IllegalArgumentException if it is not 32 bytes long
   */
  public static EpochSecret fromBytes(byte[] secret) {
    Objects.requireNonNull(secret, "secret");
    if (secret.length != LENGTH) {
      throw new IllegalArgumentException("an epoch secret is 32 bytes, got " + secret.length);
    }
    return new EpochSecret(secret.clone());
  }

  /** A fresh copy of the 32 secret bytes, for the holder's own key store. Handle with care. */
  public byte[] toBytes() {
    return live().clone();
  }

  /** The epoch's public key, which is also the epoch's id. */
  public EpochKey epochKey() {
    return epochKey;
  }

  /** The epoch's X25519 key pair, as Bouncy Castle's HPKE takes it. */
  public AsymmetricCipherKeyPair keyPair() {
    live();
    return keyPair;
  }

  /**
   * This secret wrapped for a reader: HPKE {@code SetupBaseS(pkR = x25519, info = "capsulevm/epoch/v1" ||
   * epoch key || member)}, one {@code Seal} with empty aad. The card's signature is carried, not checked
   * (the keystore checks it).
   *
   * @param member the reader's Ed25519 identity
   * @param x25519 the reader's X25519 public key from its member card (32 bytes)
   * @param cardSignature the card's signature binding the two keys
   * @throws IllegalArgumentException if {@code x25519} is not 32 bytes or is a key nothing can be sealed to
   *     (a small-order point, whose shared secret is all zeros)
   */
  public Keystore.Entry wrapFor(PublicKey member, byte[] x25519, Signature cardSignature) {
    return wrapFor(member, x25519, cardSignature, null);
  }

  /** As {@link #wrapFor(PublicKey, byte[], Signature)}, with a fixed ephemeral key: for worked examples only. */
  Keystore.Entry wrapFor(PublicKey member, byte[] x25519, Signature cardSignature,
      @Nullable AsymmetricCipherKeyPair ephemeralOrNull) {
    Objects.requireNonNull(member, "member");
    Objects.requireNonNull(x25519, "x25519");
    Objects.requireNonNull(cardSignature, "cardSignature");
    if (x25519.length != Suite.KEY_LENGTH) {
      throw new IllegalArgumentException("an X25519 public key is 32 bytes, got " + x25519.length);
    }
    byte[] plaintext = live();
    HPKE hpke = Suite.hpke();
    byte[] info = wrapInfo(epochKey, member);
    try {
      HPKEContextWithEncapsulation context = ephemeralOrNull == null
          ? hpke.setupBaseS(hpke.deserializePublicKey(x25519), info)
          : hpke.setupBaseS(hpke.deserializePublicKey(x25519), info, ephemeralOrNull);
      byte[] wrapped = context.seal(new byte[0], plaintext);
      return new Keystore.Entry(member, x25519.clone(), cardSignature, context.getEncapsulation(), wrapped);
    } catch (InvalidCipherTextException | RuntimeException e) {
      // Only a degenerate recipient key fails here: X25519 refuses an all-zero shared secret.
      throw new IllegalArgumentException("member " + member.toHex() + "'s x25519 key cannot be wrapped to", e);
    }
  }

  /**
   * Opens the entry {@code entry} of a keystore block of {@code epochKey} with the member's X25519 private
   * key, and checks that the secret inside derives {@code epochKey}.
   *
   * @throws DecryptionException {@link DecryptionException.Reason#NOT_FOR_YOU NOT_FOR_YOU} when the entry
   *     is wrapped to another x25519 key than {@code memberKey}'s; {@link DecryptionException.Reason#DOES_NOT_DECRYPT
   *     DOES_NOT_DECRYPT} when it does not open (changed, or wrapped with another epoch key or member);
   *     {@link DecryptionException.Reason#WRONG_EPOCH_SECRET WRONG_EPOCH_SECRET} when what it holds is not
   *     the secret of {@code epochKey}
   */
  public static EpochSecret unwrap(Keystore.Entry entry, EpochKey epochKey, X25519PrivateKeyParameters memberKey)
      throws DecryptionException {
    Objects.requireNonNull(entry, "entry");
    Objects.requireNonNull(epochKey, "epochKey");
    Objects.requireNonNull(memberKey, "memberKey");
    String what = "keystore entry of member " + entry.member().toHex();
    X25519PublicKeyParameters publicKey = memberKey.generatePublicKey();
    byte[] mine = publicKey.getEncoded();
    if (!MessageDigest.isEqual(mine, entry.x25519())) {
      throw new DecryptionException(DecryptionException.Reason.NOT_FOR_YOU, what + " for epoch " + epochKey.toHex()
          + " is wrapped for the x25519 key " + hex(entry.x25519()) + ", not for yours (" + hex(mine) + ")");
    }
    HPKE hpke = Suite.hpke();
    byte[] secret;
    try {
      HPKEContext context = hpke.setupBaseR(entry.enc(),
          new AsymmetricCipherKeyPair(publicKey, memberKey), wrapInfo(epochKey, entry.member()));
      secret = context.open(new byte[0], entry.wrapped());
    } catch (InvalidCipherTextException | RuntimeException e) {
      throw new DecryptionException(DecryptionException.Reason.DOES_NOT_DECRYPT, what + " for epoch "
          + epochKey.toHex() + " does not decrypt with your x25519 key: it was changed, or wrapped for another"
          + " epoch or member", e);
    }
    return checked(secret, epochKey, what);
  }

  /**
   * The link from this (newer) epoch to {@code previous}: its secret under ChaCha20-Poly1305 with the key
   * {@code HKDF-SHA256(salt = empty, ikm = this secret, info = "capsulevm/prev/v1" || previous epoch key ||
   * this epoch key)}, a zero nonce and empty aad. Whoever holds this secret can open it.
   *
   * @throws IllegalArgumentException if {@code previous} is this epoch
   */
  public Keystore.PreviousLink sealPrevious(EpochSecret previous) {
    Objects.requireNonNull(previous, "previous");
    if (previous.epochKey.equals(epochKey)) {
      throw new IllegalArgumentException("an epoch cannot link to itself (" + epochKey.toHex() + ")");
    }
    byte[] key = previousKey(previous.epochKey);
    try {
      byte[] plaintext = previous.live();
      return new Keystore.PreviousLink(previous.epochKey, Suite.seal(key, NONCE_ZERO, plaintext, 0, plaintext.length));
    } finally {
      Arrays.fill(key, (byte) 0);
    }
  }

  /**
   * Opens a link made by {@link #sealPrevious} on this epoch's secret, and checks that what it holds derives
   * the link's epoch key.
   *
   * @throws DecryptionException {@link DecryptionException.Reason#DOES_NOT_DECRYPT DOES_NOT_DECRYPT} when
   *     it does not open (changed, or not a link from this epoch); {@link DecryptionException.Reason#WRONG_EPOCH_SECRET
   *     WRONG_EPOCH_SECRET} when what it holds is not the secret of the link's epoch key
   */
  public EpochSecret openPrevious(Keystore.PreviousLink link) throws DecryptionException {
    Objects.requireNonNull(link, "link");
    String what = "the link from epoch " + epochKey.toHex() + " to previous epoch " + link.epochKey().toHex();
    byte[] key = previousKey(link.epochKey());
    byte[] secret;
    try {
      secret = Suite.open(key, NONCE_ZERO, link.sealed());
    } catch (InvalidCipherTextException e) {
      throw new DecryptionException(DecryptionException.Reason.DOES_NOT_DECRYPT, what
          + " does not decrypt: it was changed, or made by another epoch", e);
    } finally {
      Arrays.fill(key, (byte) 0);
    }
    return checked(secret, link.epochKey(), what);
  }

  /** Zeroes this object's copy of the secret; any later use throws {@link IllegalStateException}. */
  @Override
  public void destroy() {
    destroyed = true;
    Arrays.fill(secret, (byte) 0);
  }

  @Override
  public boolean isDestroyed() {
    return destroyed;
  }

  /** The epoch key only: the secret is never printed. */
  @Override
  public String toString() {
    return "EpochSecret[epoch " + epochKey.toHex() + (destroyed ? ", destroyed" : "") + "]";
  }

  private byte[] live() {
    if (destroyed) {
      throw new IllegalStateException("the secret of epoch " + epochKey.toHex() + " was destroyed");
    }
    return secret;
  }

  /** The HKDF key of the link from this epoch to {@code previous}. */
  private byte[] previousKey(EpochKey previous) {
    return Suite.hkdf(live(), Suite.concat(Suite.PREVIOUS_INFO, previous.toByteArray(), epochKey.toByteArray()));
  }

  private static byte[] wrapInfo(EpochKey epochKey, PublicKey member) {
    return Suite.concat(Suite.EPOCH_INFO, epochKey.toByteArray(), member.toByteArray());
  }

  /** {@code secret} as an epoch secret, if it derives {@code expected}; zeroed otherwise. */
  private static EpochSecret checked(byte[] secret, EpochKey expected, String what) throws DecryptionException {
    EpochSecret opened = new EpochSecret(secret);
    if (!opened.epochKey.equals(expected)) {
      opened.destroy();
      throw new DecryptionException(DecryptionException.Reason.WRONG_EPOCH_SECRET, what
          + " does not open epoch " + expected.toHex() + ": the secret inside belongs to another epoch");
    }
    return opened;
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }
}
